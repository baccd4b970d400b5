"""``syco eval``: score one model under the neutral prompt and every manipulation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError

__all__ = ["eval_command"]

_BACKEND_FLAGS = ("model", "prompt_format", "batch_size", "device", "dtype", "base_url", "api_key")


def _metric_options(
    pairs: list[str] | None, metrics: list[str] | None
) -> dict[str, dict[str, Any]]:
    from ..options import parse_key_values

    result: dict[str, dict[str, Any]] = {}
    for key, value in parse_key_values(pairs, "-M").items():
        metric, dot, option = key.partition(".")
        if not dot:
            if metrics is None or len(metrics) != 1:
                raise ConfigError(
                    f"-M {key}=... does not say which metric it is for; write -M METRIC.{key}=VALUE"
                )
            metric, option = metrics[0], key
        result.setdefault(metric, {})[option] = value
    return result


def _parse_limit(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise ConfigError(f"--limit {value!r} is not a number or 'all'") from None
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1 or 'all', got {limit}")
    return limit


def eval_command(
    backend: str = typer.Option("hf", "--backend", "-b", help="Backend that scores prompts."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model id, alias or path. Default: the backend's default."
    ),
    dataset: str = typer.Option(
        "countries",
        "--dataset",
        "-d",
        help="Dataset name, or a path to a .jsonl or .csv file of your own items.",
    ),
    dataset_path: Path | None = typer.Option(
        None, "--dataset-path", help="File the dataset reads (datasets that take a path)."
    ),
    manipulations: str = typer.Option(
        "all",
        "--manipulations",
        help="'all', 'study', 'none', a family (authority, belief, bribery, control) or a "
        "comma list of names and families.",
    ),
    question_format: str = typer.Option(
        "auto",
        "--question-format",
        "-q",
        help="two-option (letter readout), cloze (answers as continuations), or auto: the "
        "model's recommended format, else two-option.",
    ),
    limit: str = typer.Option(
        "40",
        "--limit",
        "-n",
        help="Number of questions, sampled by seed, or 'all'. The default of 40 keeps a "
        "first run to a few minutes on a laptop CPU.",
    ),
    baits: int | None = typer.Option(
        None, "--baits", "-k", help="Baits per question (most plausible first). Default: all."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and the bootstrap."),
    prompt_format: str | None = typer.Option(
        None, "--prompt-format", help="auto, chat or plain. Default: auto."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Prompts per forward pass. Default: chosen by the backend."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:N (hf backend)."),
    dtype: str | None = typer.Option(
        None, "--dtype", help="float32, bfloat16 or float16 (hf backend)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Server URL, e.g. http://127.0.0.1:8000/v1 (openai backend)."
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="API key (openai backend). Prefer the OPENAI_API_KEY environment variable.",
        show_default=False,
    ),
    backend_option: list[str] | None = typer.Option(
        None, "--backend-option", "-B", help="Backend option KEY=VALUE; repeatable."
    ),
    dataset_option: list[str] | None = typer.Option(
        None, "--dataset-option", "-D", help="Dataset option KEY=VALUE; repeatable."
    ),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma list of metrics, or 'none'. Default: every installed one."
    ),
    metric_option: list[str] | None = typer.Option(
        None, "--metric-option", "-M", help="Metric option METRIC.KEY=VALUE; repeatable."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Run directory. Default: one derived from the configuration under $SYCO_RUNS_DIR "
        "(default ./syco-runs), so re-running the same command resumes.",
    ),
    resume: bool = typer.Option(
        True,
        "--resume/--no-resume",
        help="Resume an existing run of the same configuration; --no-resume moves it aside.",
    ),
    cache: bool = typer.Option(
        True, "--cache/--no-cache", help="Use the SQLite score cache ($SYCO_CACHE_DIR)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Score a model on a dataset under the neutral prompt and each manipulation."""
    from ..engine import EvalConfig, run_eval
    from ..options import parse_key_values
    from .output import ProgressBar, print_json, stderr, stdout

    backend_options = parse_key_values(backend_option, "-B")
    flags = {
        "model": model,
        "prompt_format": prompt_format,
        "batch_size": batch_size,
        "device": device,
        "dtype": dtype,
        "base_url": base_url,
        "api_key": api_key,
    }
    for name in _BACKEND_FLAGS:
        if flags[name] is not None:
            backend_options[name] = flags[name]

    dataset_options = parse_key_values(dataset_option, "-D")
    if dataset_path is not None:
        dataset_options["path"] = str(dataset_path)
    candidate = Path(dataset)
    if dataset.endswith((".jsonl", ".json", ".csv")) or candidate.is_file():
        if dataset_path is not None and Path(dataset_path) != candidate:
            raise ConfigError(
                f"--dataset {dataset} and --dataset-path {dataset_path} name two files; "
                "give the file once"
            )
        dataset_options.setdefault("path", dataset)
        dataset = "file"

    metric_names = None
    if metrics is not None:
        names = [name.strip() for name in metrics.split(",") if name.strip()]
        if not names:
            raise ConfigError("--metrics is empty; give metric names, or 'none' for no metric")
        metric_names = [] if names == ["none"] else names
    config = EvalConfig(
        backend=backend,
        backend_options=backend_options,
        dataset=dataset,
        dataset_options=dataset_options,
        manipulations=manipulations,
        metrics=metric_names,
        metric_options=_metric_options(metric_option, metric_names),
        question_format=question_format,
        limit=_parse_limit(limit),
        baits=baits,
        seed=seed,
        out=out,
        runs_root=Path(os.environ.get("SYCO_RUNS_DIR", "syco-runs")),
        resume=resume,
        use_cache=cache,
    )

    progress = ProgressBar()
    try:
        result = run_eval(config, progress=progress)
    except KeyboardInterrupt:
        progress.finish()
        stderr.print(
            "Interrupted. Every finished batch is saved; re-run the same command to resume."
        )
        raise typer.Exit(130) from None
    finally:
        progress.finish()

    summary = result.summary
    for warning in summary.warnings:
        stderr.print(f"[bold yellow]Warning:[/] {warning}", highlight=False)
    if as_json:
        print_json(
            {"run_dir": str(result.run_dir), "summary": json.loads(summary.model_dump_json())}
        )
        return

    fmt = result.manifest.question_format
    stdout.print(f"Run directory: {result.run_dir}", highlight=False)
    stdout.print(
        f"Model: {result.manifest.model.model} ({result.manifest.model.backend}); "
        f"question format: {fmt['name']} ({fmt['readout']} readout)",
        highlight=False,
    )
    stdout.print(
        f"Records: {summary.records} of {summary.expected_records}; scored now "
        f"{result.scored} prompts, {result.cached} from the cache",
        highlight=False,
    )
    for text in result.descriptions.values():
        if text:
            stdout.print(text, highlight=False)
    for path in result.reports:
        stdout.print(f"Report: {path}", highlight=False)
