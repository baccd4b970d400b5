"""``syco sweep``: evaluate every model of a sweep file, here or on a Ray cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..engine import Progress
    from ..sweep import ModelEntry, ModelStatus

__all__ = ["sweep_command"]

EXECUTORS = ("local", "ray")


def _size(value: float) -> str:
    return f"{value:g}B"


def sweep_command(
    sweep_file: Path = typer.Argument(..., help="Sweep file (TOML): [sweep] and [[model]] tables."),
    executor: str = typer.Option(
        "local",
        "--executor",
        "-e",
        help="local: one model after another in this process. ray: each model a Ray task "
        '(needs: pip install "sycocore[ray]").',
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="Ray cluster to connect to, e.g. ray://head:10001 or auto. Default: start a "
        "local Ray instance on 127.0.0.1 and stop it at the end.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Sweep directory. Default: sweep-<name> under $SYCO_RUNS_DIR (default ./syco-runs). "
        "Re-running the same sweep there skips finished models and resumes the others.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print sweep.json on stdout."),
) -> None:
    """Evaluate every model of a sweep file into <sweep dir>/runs/<name>/ and record each
    model's status in <sweep dir>/sweep.json. Exits 1 when a model failed."""
    from ..sweep import load_sweep_file, run_sweep
    from .output import ProgressBar, print_json, print_table, stderr, stdout

    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    spec = load_sweep_file(sweep_file)
    sweep_dir = out or Path(os.environ.get("SYCO_RUNS_DIR", "syco-runs")) / (
        f"sweep-{spec.sweep.name}"
    )

    def progress(entry: ModelEntry, position: int, total: int) -> Progress:
        stderr.print(f"[{position}/{total}] {entry.name}", highlight=False)
        return ProgressBar()

    def report(status: ModelStatus) -> None:
        if status.status == "failed":
            stderr.print(f"[bold red]{status.name} failed:[/] {status.message}", highlight=False)
        elif executor == "ray" or status.status == "skipped":
            stderr.print(f"{status.name}: {status.status}", highlight=False)

    try:
        state = run_sweep(
            spec,
            sweep_dir,
            executor="ray" if executor == "ray" else "local",
            address=address,
            progress=progress if not as_json else None,
            on_outcome=report,
        )
    except KeyboardInterrupt:
        stderr.print(
            "Interrupted. Finished models and batches are saved; re-run the same command to resume."
        )
        raise typer.Exit(130) from None

    failed = [status for status in state.models if status.status == "failed"]
    if as_json:
        print_json(state.model_dump(mode="json"))
    else:
        rows: list[list[Any]] = [
            [
                status.name,
                status.regime,
                _size(status.size_b),
                status.status,
                f"{status.records}/{status.expected_records}" if status.records is not None else "",
                status.scored,
                status.cached,
                f"{status.seconds:.1f}" if status.seconds is not None else "",
            ]
            for status in state.models
        ]
        print_table(
            f"Sweep {state.name}",
            ["model", "regime", "size", "status", "records", "scored", "cached", "seconds"],
            rows,
        )
        stdout.print(f"Sweep directory: {sweep_dir}", highlight=False)
    if failed:
        from rich.table import Table

        table = Table(title="Failed models", title_justify="left")
        table.add_column("model")
        table.add_column("message")
        for status in failed:
            table.add_row(status.name, status.message or "")
        stderr.print(table)
        raise typer.Exit(1)
