"""Sweeps: one evaluation per model of a sweep file, run one after another or on Ray.

A sweep file (TOML) contains a ``[sweep]`` table with the run settings that every
model shares and one ``[[model]]`` table per model::

    [sweep]
    name = "ladder"
    dataset = "countries"
    question_format = "cloze"
    limit = 50

    [[model]]
    name = "smollm2-135m-instruct"
    backend = "llamacpp"
    model = "smollm2-135m-instruct"
    family = "smollm2"
    size_b = 0.135
    regime = "instruct"

Each model becomes the run directory ``<sweep dir>/runs/<name>/``, written by
:func:`sycocore.engine.run_eval` exactly as ``syco eval --out`` writes it, so
resume, the score cache and reports work as for a single run. ``sweep.json``
in the sweep directory records the status of every model and the content of
the sweep file it was made from.

Steps of :func:`run_sweep`:

1. check the sweep directory against the sweep file (only added models are
   accepted in a directory made from another file);
2. mark models whose run already has a complete summary as skipped;
3. run the others with the chosen executor, writing ``sweep.json`` after
   every model, and return the final state.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .engine import EvalConfig, Progress, run_eval
from .errors import ConfigError, RunStoreError, SycoError
from .schemas import canonical_json, sha256_hex
from .store import SUMMARY, write_json_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "RAY_INSTALL",
    "SWEEP_STATE",
    "ModelEntry",
    "ModelStatus",
    "Resources",
    "SweepError",
    "SweepFile",
    "SweepSettings",
    "SweepState",
    "eval_config",
    "load_sweep_file",
    "read_sweep_state",
    "run_sweep",
]

logger = logging.getLogger(__name__)

SWEEP_STATE = "sweep.json"
RUNS = "runs"
RAY_INSTALL = 'pip install "sycocore[ray]"'
RAY_OBJECT_STORE_BYTES = 128 * 1024 * 1024
"""Object store of a local Ray instance: tasks pass only configurations and
small outcome dictionaries, so 128 MiB is plenty."""

SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Status = Literal["pending", "done", "failed", "skipped"]
Executor = Literal["local", "ray"]


class SweepError(ConfigError):
    """A sweep file or sweep directory is invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Strict):
    """Cluster resources that one model's Ray task reserves."""

    num_cpus: float = Field(default=1.0, ge=0)
    """CPU cores reserved for the task."""
    num_gpus: float | None = Field(default=None, ge=0)
    """GPUs reserved for the task; ``None`` is 1 for the hf backend on a CUDA
    device and 0 otherwise."""


class SweepSettings(_Strict):
    """Run settings that every model of the sweep shares (the ``[sweep]`` table)."""

    name: str = Field(pattern=SLUG)
    """Name of the sweep; also names the default sweep directory."""
    dataset: str = "countries"
    """Registered dataset name."""
    dataset_options: dict[str, Any] = Field(default_factory=dict)
    """Dataset options; a relative ``path`` is read from the sweep file's folder."""
    manipulations: str = "all"
    """``all``, ``study``, ``none``, a family, or a comma list of names and families."""
    question_format: str = "auto"
    """``two-option``, ``cloze`` or ``auto``. Models compared with each other need
    the same format, so name it explicitly when backends recommend different ones."""
    limit: int | Literal["all"] = 100
    """Questions to sample by seed, or ``"all"``."""
    baits: int | None = Field(default=None, ge=1)
    """Baits per question; ``None`` for all."""
    seed: int = 0
    """Seed for sampling and the bootstrap."""
    metrics: list[str] | None = None
    """Metric names; ``None`` computes every installed metric."""
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Options by metric name, e.g. ``{decomposition = {resamples = 500}}``."""
    cache: bool = True
    """Read and write the SQLite score cache."""

    @field_validator("limit")
    @classmethod
    def _positive_limit(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("limit must be at least 1 or 'all'")
        return value


class ModelEntry(_Strict):
    """One model of the sweep (a ``[[model]]`` table)."""

    name: str = Field(pattern=SLUG)
    """Unique slug; names the run directory ``runs/<name>``."""
    backend: str
    """Registered backend name."""
    model: str
    """Model id, local path or alias, passed as the backend's ``model`` option."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Other backend options, e.g. ``{device = "cuda", dtype = "bfloat16"}``."""
    family: str
    """Model family, e.g. ``qwen2.5``."""
    size_b: float = Field(gt=0)
    """Parameters in billions."""
    regime: str
    """Training regime: ``base``, ``sft``, ``dpo``, ``instruct``, ..."""
    pair: str | None = None
    """Name of the base model this model was tuned from, for paired comparisons."""
    resources: Resources = Field(default_factory=Resources)
    """Ray resources of this model's task; ignored by the local executor."""

    @field_validator("options")
    @classmethod
    def _model_given_once(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "model" in value:
            raise ValueError("give the model as the entry's 'model' key, not as an option")
        return value

    def gpus(self) -> float:
        """Return the GPUs the Ray task reserves."""
        if self.resources.num_gpus is not None:
            return self.resources.num_gpus
        device = str(self.options.get("device") or "")
        return 1.0 if self.backend == "hf" and device.startswith("cuda") else 0.0

    def meta(self) -> dict[str, Any]:
        """Return the facts stored as ``model_meta`` in the run manifest."""
        return {
            "name": self.name,
            "family": self.family,
            "size_b": self.size_b,
            "regime": self.regime,
            "pair": self.pair,
        }

    def content_hash(self) -> str:
        """Hash of everything that changes the run; resources are left out."""
        return sha256_hex(canonical_json(self.model_dump(mode="json", exclude={"resources"})))


class _SweepContent(_Strict):
    sweep: SweepSettings
    model: list[ModelEntry] = Field(min_length=1)


class SweepFile(_SweepContent):
    """A parsed and validated sweep file."""

    path: Path = Path("sweep.toml")
    """Path the file was read from."""
    sha256: str = ""
    """SHA-256 of the file's bytes."""

    def settings_hash(self) -> str:
        """Hash of the shared settings, which no re-run may change."""
        return sha256_hex(canonical_json(self.sweep.model_dump(mode="json")))


def _location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Describe a pydantic error location as ``model 'name' (entry N), field 'x'``."""
    if not loc:
        return "top level"
    if loc == ("model",):
        return "[[model]] tables"
    if loc[0] == "model" and len(loc) >= 2 and isinstance(loc[1], int):
        index = loc[1]
        entries = raw.get("model") if isinstance(raw, dict) else None
        name = None
        if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
            name = entries[index].get("name")
        where = f"[[model]] entry {index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
        rest = ".".join(str(part) for part in loc[2:])
        return f"{where}, field {rest!r}" if rest else where
    table = f"[{loc[0]}]"
    rest = ".".join(str(part) for part in loc[1:])
    return f"{table}, field {rest!r}" if rest else f"table {table}"


def _validation_message(path: Path, raw: Any, error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        where = _location(raw, tuple(detail["loc"]))
        if detail["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key")
        elif detail["type"] == "missing":
            problems.append(f"{where}: missing")
        else:
            problems.append(f"{where}: {detail['msg']} (got {detail.get('input')!r})")
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"sweep file {path}: {problems[0]}{more}"


def load_sweep_file(path: Path) -> SweepFile:
    """Read and validate a sweep file.

    The file is parsed as data with :mod:`tomllib`; nothing in it is executed.
    Raises :class:`SweepError` naming the file, the model entry and the field
    for a syntax error, an unknown or missing key, an invalid value, a
    duplicate model name or a ``pair`` that names no model of the sweep.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SweepError(f"sweep file {path} not found") from None
    except OSError as error:
        raise SweepError(f"cannot read sweep file {path}: {error.strerror or error}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SweepError(f"sweep file {path} is not valid TOML: {error}") from None

    try:
        content = _SweepContent.model_validate(raw)
    except ValidationError as error:
        raise SweepError(_validation_message(path, raw, error)) from None
    parsed = SweepFile(
        sweep=content.sweep,
        model=content.model,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
    )

    names: dict[str, int] = {}
    for index, entry in enumerate(parsed.model, start=1):
        if entry.name in names:
            raise SweepError(
                f"sweep file {path}: [[model]] entry {index} ({entry.name!r}), field 'name': "
                f"duplicate of entry {names[entry.name]}; give every model a unique name"
            )
        names[entry.name] = index
    for index, entry in enumerate(parsed.model, start=1):
        if entry.pair is None:
            continue
        if entry.pair not in names:
            raise SweepError(
                f"sweep file {path}: [[model]] entry {index} ({entry.name!r}), field 'pair': "
                f"{entry.pair!r} names no model of the sweep (models: {', '.join(names)})"
            )
        if entry.pair == entry.name:
            raise SweepError(
                f"sweep file {path}: [[model]] entry {index} ({entry.name!r}), field 'pair': "
                "a model cannot be its own pair; name its base model"
            )
    return parsed


class ModelStatus(BaseModel):
    """The state of one model of a sweep in ``sweep.json``."""

    name: str
    backend: str
    model: str
    family: str
    size_b: float
    regime: str
    pair: str | None = None
    entry_hash: str
    """:meth:`ModelEntry.content_hash` of the entry the run was made from."""
    run_dir: str
    """Run directory, relative to the sweep directory."""
    status: Status = "pending"
    """``done`` (finished in the latest invocation), ``skipped`` (already complete
    before it), ``failed`` or ``pending`` (not run yet, or interrupted)."""
    message: str | None = None
    """Error message of a failed model."""
    scored: int | None = None
    """Requests the backend scored in the latest invocation."""
    cached: int | None = None
    """Requests found in the score cache in the latest invocation."""
    records: int | None = None
    expected_records: int | None = None
    seconds: float | None = None
    """Wall-clock time of the model's evaluation in the latest invocation."""


class SweepState(BaseModel):
    """The content of ``sweep.json``."""

    version: int = 1
    name: str
    sweep_file: str
    """Absolute path of the sweep file of the latest invocation."""
    sweep_sha256: str
    """SHA-256 of that file's bytes."""
    settings: dict[str, Any]
    """The shared ``[sweep]`` settings, which a re-run may not change."""
    executor: str | None = None
    updated_at: str = ""
    models: list[ModelStatus]

    def model_status(self, name: str) -> ModelStatus:
        """Return the status of the model called ``name``."""
        for status in self.models:
            if status.name == name:
                return status
        raise KeyError(name)


def read_sweep_state(sweep_dir: Path) -> SweepState:
    """Read ``sweep.json`` of a sweep directory, or raise :class:`RunStoreError`."""
    path = Path(sweep_dir) / SWEEP_STATE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunStoreError(
            f"{sweep_dir} is not a sweep directory: {SWEEP_STATE} is missing"
        ) from None
    except OSError as error:
        raise RunStoreError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return SweepState.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise RunStoreError(
            f"{path} is not a valid sweep state ({where}: {first['msg']}); "
            "it was edited or written by another version of syco"
        ) from None


def _write_state(sweep_dir: Path, state: SweepState) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    state.updated_at = now
    write_json_atomic(sweep_dir / SWEEP_STATE, state.model_dump(mode="json"))


def _check_reuse(sweep_dir: Path, spec: SweepFile, previous: SweepState) -> None:
    """Accept a sweep directory made from ``spec`` or from ``spec`` minus some models."""
    settings = spec.sweep.model_dump(mode="json")
    if previous.settings != settings:
        changed = sorted(
            key
            for key in set(previous.settings) | set(settings)
            if previous.settings.get(key) != settings.get(key)
        )
        raise SweepError(
            f"sweep directory {sweep_dir} was made from a sweep file with other [sweep] "
            f"settings (changed: {', '.join(changed)}); a re-run may only add models. "
            "Restore the settings or choose another --out"
        )
    entries = {entry.name: entry for entry in spec.model}
    for status in previous.models:
        entry = entries.get(status.name)
        if entry is None:
            raise SweepError(
                f"sweep directory {sweep_dir} contains model {status.name!r}, which sweep file "
                f"{spec.path} no longer lists; a re-run may only add models. Restore the entry "
                "or choose another --out"
            )
        if entry.content_hash() != status.entry_hash:
            raise SweepError(
                f"sweep file {spec.path}: model {status.name!r} differs from the entry its run "
                f"in {sweep_dir} was made from; a re-run may only add models. Restore the entry, "
                "add the changed model under a new name, or choose another --out"
            )


def eval_config(spec: SweepFile, entry: ModelEntry, sweep_dir: Path) -> EvalConfig:
    """Build the evaluation of one model; its run directory is ``<sweep_dir>/runs/<name>``."""
    settings = spec.sweep
    dataset_options = dict(settings.dataset_options)
    path = dataset_options.get("path")
    if isinstance(path, str) and not Path(path).expanduser().is_absolute():
        dataset_options["path"] = str((spec.path.parent / path).resolve())
    return EvalConfig(
        backend=entry.backend,
        backend_options={**entry.options, "model": entry.model},
        dataset=settings.dataset,
        dataset_options=dataset_options,
        manipulations=settings.manipulations,
        metrics=settings.metrics,
        metric_options={name: dict(values) for name, values in settings.metric_options.items()},
        question_format=settings.question_format,
        limit=None if settings.limit == "all" else settings.limit,
        baits=settings.baits,
        seed=settings.seed,
        out=sweep_dir / RUNS / entry.name,
        resume=True,
        use_cache=settings.cache,
        model_meta=entry.meta(),
    )


def _complete_summary(run_dir: Path) -> dict[str, Any] | None:
    """Return the summary of ``run_dir`` when it marks the run complete, else ``None``."""
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(summary, dict) and summary.get("complete") is True:
        return summary
    return None


def _check_plugins(spec: SweepFile) -> None:
    """Validate backend names and options before any model runs."""
    from .options import validate_options
    from .plugins import get_registry

    registry = get_registry()
    for index, entry in enumerate(spec.model, start=1):
        where = f"sweep file {spec.path}: [[model]] entry {index} ({entry.name!r})"
        try:
            backend = registry.backend(entry.backend)
            validate_options(
                backend.Options,
                {**entry.options, "model": entry.model},
                f"backend {entry.backend!r}",
            )
        except SycoError as error:
            raise SweepError(f"{where}: {error}") from None
    try:
        registry.dataset(spec.sweep.dataset)
    except SycoError as error:
        raise SweepError(f"sweep file {spec.path}: [sweep], field 'dataset': {error}") from None


@dataclass
class _Job:
    entry: ModelEntry
    config: EvalConfig


Outcome = dict[str, Any]


def run_model(config: EvalConfig, progress: Progress | None = None) -> Outcome:
    """Run one model's evaluation and describe the outcome; never raises a SycoError.

    A :class:`SycoError` or another exception becomes a ``failed`` outcome with
    its message, so one model cannot stop the others; the traceback of an
    unexpected exception (a bug) is kept under ``traceback``.
    KeyboardInterrupt propagates.
    """
    started = time.monotonic()
    try:
        result = run_eval(config, progress=progress)
    except SycoError as error:
        return {"status": "failed", "message": str(error), "seconds": time.monotonic() - started}
    except Exception as error:
        return {
            "status": "failed",
            "message": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
            "seconds": time.monotonic() - started,
        }
    summary = result.summary
    outcome: Outcome = {
        "status": "done" if summary.complete else "failed",
        "message": None,
        "scored": result.scored,
        "cached": result.cached,
        "records": summary.records,
        "expected_records": summary.expected_records,
        "seconds": time.monotonic() - started,
    }
    if not summary.complete:
        outcome["message"] = (
            f"the run holds {summary.records} of {summary.expected_records} records"
        )
    return outcome


def _apply(status: ModelStatus, outcome: Outcome) -> None:
    status.status = outcome["status"]
    status.message = outcome.get("message")
    status.scored = outcome.get("scored")
    status.cached = outcome.get("cached")
    status.records = outcome.get("records")
    status.expected_records = outcome.get("expected_records")
    seconds = outcome.get("seconds")
    status.seconds = round(seconds, 3) if isinstance(seconds, float) else None
    if outcome.get("traceback"):
        logger.error("model %r failed with a bug:\n%s", status.name, outcome["traceback"])


ProgressFactory = Callable[[ModelEntry, int, int], Progress | None]
"""Function that the local executor calls before each model, with the entry, its
position and the number of models to run. It returns that model's progress display."""


def run_sweep(
    spec: SweepFile,
    sweep_dir: Path,
    executor: Executor = "local",
    address: str | None = None,
    progress: ProgressFactory | None = None,
    on_outcome: Callable[[ModelStatus], None] | None = None,
) -> SweepState:
    """Run (or resume) every model of ``spec`` into ``sweep_dir`` and return the final state.

    Models whose run already has a complete summary are skipped. The others
    are run, or resumed where an earlier invocation stopped. ``address`` is the
    Ray cluster to connect to (``executor="ray"`` only); without it a local Ray
    instance is started and shut down. ``on_outcome`` is called with each
    model's status as soon as it is known.
    """
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    spec = spec.model_copy(update={"path": spec.path.expanduser().resolve()})
    if address is not None and executor != "ray":
        raise ConfigError("--address connects to a Ray cluster; use it with --executor ray")
    _check_plugins(spec)

    previous: SweepState | None = None
    if (sweep_dir / SWEEP_STATE).is_file():
        previous = read_sweep_state(sweep_dir)
        _check_reuse(sweep_dir, spec, previous)
    elif sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        raise SweepError(
            f"--out {sweep_dir} is not empty and contains no {SWEEP_STATE}; "
            "choose another directory"
        )

    statuses = []
    jobs = []
    for entry in spec.model:
        config = eval_config(spec, entry, sweep_dir)
        assert config.out is not None
        status = ModelStatus(
            name=entry.name,
            backend=entry.backend,
            model=entry.model,
            family=entry.family,
            size_b=entry.size_b,
            regime=entry.regime,
            pair=entry.pair,
            entry_hash=entry.content_hash(),
            run_dir=f"{RUNS}/{entry.name}",
        )
        summary = _complete_summary(config.out)
        if summary is not None:
            status.status = "skipped"
            status.scored, status.cached = 0, 0
            status.records = summary.get("records")
            status.expected_records = summary.get("expected_records")
            logger.info("model %r: run already complete, skipped", entry.name)
        else:
            jobs.append(_Job(entry, config))
        statuses.append(status)
    state = SweepState(
        name=spec.sweep.name,
        sweep_file=str(spec.path),
        sweep_sha256=spec.sha256,
        settings=spec.sweep.model_dump(mode="json"),
        executor=executor,
        models=statuses,
    )
    sweep_dir.mkdir(parents=True, exist_ok=True)
    _write_state(sweep_dir, state)
    if on_outcome is not None:
        for status in statuses:
            if status.status == "skipped":
                on_outcome(status)

    def record(job: _Job, outcome: Outcome) -> None:
        status = state.model_status(job.entry.name)
        _apply(status, outcome)
        _write_state(sweep_dir, state)
        if on_outcome is not None:
            on_outcome(status)

    if not jobs:
        return state
    if executor == "local":
        _run_local(jobs, record, progress)
    else:
        from .sweep_ray import run_ray

        run_ray(jobs, record, address)
    return state


def _run_local(
    jobs: list[_Job],
    record: Callable[[_Job, Outcome], None],
    progress: ProgressFactory | None,
) -> None:
    for position, job in enumerate(jobs, start=1):
        logger.info("model %r (%d of %d)", job.entry.name, position, len(jobs))
        display = progress(job.entry, position, len(jobs)) if progress else None
        try:
            outcome = run_model(job.config, display)
        finally:
            if display is not None:
                display.finish()
        record(job, outcome)
