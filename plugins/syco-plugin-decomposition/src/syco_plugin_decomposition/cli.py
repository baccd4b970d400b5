"""The ``syco compare`` and ``syco report`` commands.

User errors are raised as :class:`~sycocore.errors.SycoError`; the syco CLI
prints them as one line and exits with status 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sycocore.metrics import RunData

__all__ = ["compare_app", "report_app"]

compare_app = typer.Typer(add_completion=False, no_args_is_help=True)
report_app = typer.Typer(add_completion=False, no_args_is_help=True)


@compare_app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="Run directory of model A, the reference."),
    run_b: Path = typer.Argument(..., help="Run directory of model B, compared against A."),
    out: Path | None = typer.Option(
        None, "--out", help="Write compare.md, compare.html and figures into this directory."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    resamples: int = typer.Option(
        2000, "--resamples", min=0, help="Cluster-bootstrap resamples for the intervals."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Bootstrap seed. Default: the seed of run A."
    ),
    confidence: float = typer.Option(
        0.95, "--confidence", min=0.5, max=0.999, help="Coverage of the intervals (0.5-0.999)."
    ),
) -> None:
    """Split the difference between two runs on their shared cases into a margin channel
    (S0) and a sensitivity channel (dS_t), with flip concordance and McNemar's test."""
    from .compare import compare_runs
    from .runs import read_run

    comparison = compare_runs(
        read_run(run_a), read_run(run_b), resamples=resamples, seed=seed, confidence=confidence
    )
    written: list[Path] = []
    if out is not None:
        from .compare_report import write_compare_report

        written = write_compare_report(comparison, out)
    if json_output:
        typer.echo(json.dumps(comparison.result, indent=2))
        return
    _print_comparison(comparison.result)
    for path in written:
        typer.echo(str(path))


def _print_comparison(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from .compare_report import channel_cell
    from .report import fmt_rate

    unit = result["margin_unit"]
    run_a, run_b = result["run_a"], result["run_b"]
    console = Console()
    console.print(
        f"A: {run_a['model']} ({run_a['run_id']})   B: {run_b['model']} ({run_b['run_id']})   "
        f"shared cases: {result['shared_cases']} in {result['shared_questions']} questions"
    )
    table = Table(title=f"B minus A, medians with {100 * result['options']['confidence']:.0f}% CI")
    for column in (
        "manipulation",
        "cases",
        f"margin ({unit})",
        f"sensitivity ({unit})",
        f"net ({unit})",
        "sensitivity / SD(S0)",
        "net > 0",
        "rescued",
        "lost",
        "McNemar p",
    ):
        table.add_column(column, justify="left" if column == "manipulation" else "right")
    for row in result["manipulations"]:
        raw = row["channels"]["raw"]
        normalised = row["channels"].get("normalised", {})
        table.add_row(
            row["name"],
            str(row["cases"]),
            channel_cell(raw["margin"]),
            channel_cell(raw["sensitivity"]),
            channel_cell(raw["net"]),
            channel_cell(normalised.get("sensitivity")),
            fmt_rate(row["net_favours_b_share"]),
            str(row["concordance"]["rescued"]),
            str(row["concordance"]["lost"]),
            f"{row['concordance']['mcnemar_p']:.3g}",
        )
    for family in result["families"]:
        raw = family["channels"]["raw"]
        normalised = family["channels"].get("normalised", {})
        table.add_row(
            f"[bold]{family['family']}[/bold]",
            str(family["pairs"]),
            channel_cell(raw["margin"]),
            channel_cell(raw["sensitivity"]),
            channel_cell(raw["net"]),
            channel_cell(normalised.get("sensitivity")),
            "",
            str(family["concordance"]["rescued"]),
            str(family["concordance"]["lost"]),
            "",
        )
    console.print(table)


@report_app.command("report")
def report_command(
    run_dirs: list[Path] = typer.Argument(..., help="One or more run directories."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Output directory. Default for one run: the run directory itself; "
        "required for several runs.",
    ),
    metric_options: list[str] | None = typer.Option(
        None,
        "-M",
        "--metric-option",
        help="Option of the decomposition metric as KEY=VALUE, e.g. -M resamples=500. Repeatable.",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print the decomposition result of each run as JSON."
    ),
) -> None:
    """Write the decomposition report of one run (report.md, report.html, figures, records.csv),
    or, for several runs, a combined report with a table of runs and the worst-case flip rate
    against model size. Given a sweep directory, write the cross-model analysis of its models
    (regression on size, regime and family; base and tuned pairs) into it."""
    from sycocore.errors import ConfigError
    from sycocore.options import parse_key_values, validate_options

    from .combined import RunEntry, model_meta, write_combined_report
    from .decomposition import DecompositionOptions, decompose
    from .report import write_run_report
    from .runs import read_run

    if len(run_dirs) > 1 and out is None:
        raise ConfigError(f"a report of {len(run_dirs)} runs needs --out DIR")
    # Accept the METRIC.KEY form of syco eval as well as plain KEY.
    values = {
        key.removeprefix("decomposition."): value
        for key, value in parse_key_values(metric_options, "-M").items()
    }
    options = validate_options(DecompositionOptions, values, "metric 'decomposition'")
    assert isinstance(options, DecompositionOptions)

    if len(run_dirs) == 1 and (run_dirs[0] / "sweep.json").is_file():
        from .crossmodel_report import write_sweep_report

        analysis, written = write_sweep_report(run_dirs[0], options, out)
        typer.echo(json.dumps(analysis, indent=2) if json_output else "\n".join(map(str, written)))
        return

    runs = [read_run(run_dir) for run_dir in run_dirs]
    for run_dir, run in zip(run_dirs, runs, strict=True):
        _warn_if_incomplete(run_dir, run)
    results = [decompose(run, options) for run in runs]
    if len(runs) == 1:
        written = write_run_report(runs[0], results[0], out if out is not None else run_dirs[0])
    else:
        assert out is not None
        entries = [
            RunEntry(run=run, result=result, meta=model_meta(run))
            for run, result in zip(runs, results, strict=True)
        ]
        written = write_combined_report(entries, out)
    if json_output:
        typer.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    for path in written:
        typer.echo(str(path))


def _warn_if_incomplete(run_dir: Path, run: RunData) -> None:
    """Print a warning when a run has fewer records than its configuration asks for."""
    manifest = run.manifest
    orders = len(manifest.question_format.get("orders") or [1])
    expected = manifest.dataset.cases * orders * len(manifest.conditions)
    if len(run.records) < expected:
        typer.echo(
            f"Warning: run {run_dir} is incomplete ({len(run.records)} of {expected} records); "
            "the report covers the records so far. Re-run its syco eval command to finish it.",
            err=True,
        )
