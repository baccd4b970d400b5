"""The evaluation engine: from a configuration to a complete run directory.

Steps of :func:`run_eval`:

1. resolve the backend, dataset, manipulations, metrics and question format,
   validating every option before any model is loaded;
2. load and sample the items into cases;
3. load the backend and open (or resume) the run directory;
4. expand cases x conditions x option orders into score requests, and remove
   duplicates, so each distinct prompt (e.g. the neutral one) is scored once;
5. take what the score cache already has, let the backend schedule the rest
   into batches, score them and append records after every batch;
6. score the manipulations that build on the model's neutral answer;
7. run the metrics, write ``summary.json`` and the reports.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import platform
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .backends import Backend
from .cache import ScoreCache
from .datasets import Dataset
from .errors import BackendError, CapabilityError, ConfigError, DatasetError, PluginError, SycoError
from .formats import QuestionFormat, get_question_format
from .generation import free_form_conversation
from .manipulations import Manipulation, ManipulationContext
from .metrics import Metric, RunData
from .options import validate_options
from .paths import cache_dir
from .plugins import Registry, get_registry
from .sampling import select_cases
from .schemas import (
    NEUTRAL,
    Case,
    Condition,
    DatasetInfo,
    Item,
    Readout,
    Record,
    RunManifest,
    Score,
    ScoreRequest,
    Summary,
    canonical_json,
    sha256_hex,
)
from .selection import select_manipulations
from .store import SUMMARY, RunStore, read_run, write_json_atomic

__all__ = ["NEUTRAL_CONDITION", "EvalConfig", "EvalResult", "Progress", "run_eval"]

logger = logging.getLogger(__name__)

NEUTRAL_CONDITION = Condition(
    name=NEUTRAL,
    family="neutral",
    directional=False,
    description="The question alone, without social pressure.",
)

KEY_LIBRARIES = ("numpy", "pydantic", "torch", "transformers", "llama_cpp_python", "openai")


@dataclass
class EvalConfig:
    """Everything that defines one evaluation run."""

    backend: str = "hf"
    """Registered backend name."""
    backend_options: dict[str, Any] = field(default_factory=dict)
    """Raw backend options, validated against the backend's Options model."""
    dataset: str = "countries"
    """Registered dataset name."""
    dataset_options: dict[str, Any] = field(default_factory=dict)
    """Raw dataset options."""
    manipulations: str = "all"
    """``all``, a family, or a comma list of names and families."""
    metrics: list[str] | None = None
    """Metric names; ``None`` runs every registered metric."""
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Raw options by metric name."""
    question_format: str = "auto"
    """``auto``, ``two-option`` or ``cloze``."""
    limit: int | None = None
    """Number of questions to sample; ``None`` for all."""
    baits: int | None = None
    """Baits per question; ``None`` for all."""
    seed: int = 0
    """Seed for sampling and the bootstrap."""
    out: Path | None = None
    """Run directory; ``None`` derives one from the configuration under ``runs_root``."""
    runs_root: Path = Path("syco-runs")
    """Parent of derived run directories."""
    resume: bool = True
    """Resume an existing run of the same configuration."""
    use_cache: bool = True
    """Read and write the SQLite score cache."""
    model_meta: dict[str, Any] = field(default_factory=dict)
    """Facts about the model for cross-model analysis: family, size_b, regime, pair."""


@dataclass
class EvalResult:
    """Outcome of :func:`run_eval`."""

    run_dir: Path
    summary: Summary
    manifest: RunManifest
    reports: list[Path] = field(default_factory=list)
    scored: int = 0
    """Requests the backend scored in this invocation."""
    cached: int = 0
    """Requests answered by the score cache."""
    descriptions: dict[str, str] = field(default_factory=dict)
    """Each metric's short plain-text description of its result."""


class Progress(Protocol):
    """Receives progress updates; the CLI shows them as a bar on stderr."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


class _NoProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class _Slot:
    """A pending record: the request that scores it and the index of the gold candidate."""

    case: Case
    condition: Condition
    order: str
    request: ScoreRequest
    gold_index: int


@dataclass
class _Plan:
    registry: Registry
    backend_class: type[Backend]
    backend_options: Any
    dataset: Dataset
    manipulations: list[Manipulation]
    metrics: list[Metric]
    cases: list[Case]
    dataset_info: DatasetInfo


def _plan(config: EvalConfig, registry: Registry) -> _Plan:
    """Resolve and validate everything that needs no model."""
    backend_class = registry.backend(config.backend)
    backend_options = validate_options(
        backend_class.Options, config.backend_options, f"backend {config.backend!r}"
    )
    dataset_class = registry.dataset(config.dataset)
    dataset_options = validate_options(
        dataset_class.Options, config.dataset_options, f"dataset {config.dataset!r}"
    )
    manipulations = select_manipulations(config.manipulations, registry)

    metric_names = registry.names("metric") if config.metrics is None else config.metrics
    unknown_options = set(config.metric_options) - set(metric_names)
    if unknown_options:
        raise ConfigError(
            f"options given for metric(s) {sorted(unknown_options)} that this run does not "
            f"compute (metrics: {', '.join(metric_names) or 'none'})"
        )
    metrics = []
    for name in metric_names:
        metric_class = registry.metric(name)
        options = validate_options(
            metric_class.Options, config.metric_options.get(name, {}), f"metric {name!r}"
        )
        metrics.append(metric_class(options))

    if config.limit is not None and config.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {config.limit}")
    if config.baits is not None and config.baits < 1:
        raise ConfigError(f"--baits must be at least 1, got {config.baits}")

    dataset = dataset_class(dataset_options)
    items = _load_items(dataset)
    if dataset.rejected:
        logger.warning(
            "dataset %s: %d answers dropped by validation, e.g. %s (--log-level DEBUG lists all)",
            dataset.name,
            len(dataset.rejected),
            dataset.rejected[0],
        )
    cases = select_cases(items, config.limit, config.baits, config.seed)
    if not cases:
        raise DatasetError(f"dataset {config.dataset!r} yielded no items")
    dataset_info = _dataset_info(dataset, dataset_options.model_dump(mode="json"), cases)
    return _Plan(
        registry=registry,
        backend_class=backend_class,
        backend_options=backend_options,
        dataset=dataset,
        manipulations=manipulations,
        metrics=metrics,
        cases=cases,
        dataset_info=dataset_info,
    )


def _load_items(dataset: Dataset) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for item in dataset.load():
        if item.id in seen:
            raise DatasetError(f"dataset {dataset.name!r} has two items with id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return items


def _dataset_info(dataset: Dataset, options: dict[str, Any], cases: list[Case]) -> DatasetInfo:
    items: dict[str, Item] = {}
    for case in cases:
        items.setdefault(case.item.id, case.item)
    payload = [
        {
            "item": item.model_dump(mode="json"),
            "baits": [c.bait.id for c in cases if c.item is item],
        }
        for item in items.values()
    ]
    return DatasetInfo(
        name=dataset.name,
        license=dataset.license,
        source=dataset.describe_source(),
        options=options,
        content_hash=sha256_hex(canonical_json(payload)),
        items=len(items),
        cases=len(cases),
        rejected=len(dataset.rejected),
    )


def _resolve_format(config: EvalConfig, backend: Backend) -> tuple[QuestionFormat, Readout]:
    name = config.question_format
    if name == "auto":
        name = backend.recommended_question_format() or "two-option"
        logger.info("question format: %s", name)
    question_format = get_question_format(name)
    available = backend.available_readouts()
    readout = question_format.readout
    if readout not in available:
        if readout is Readout.NEXT_TOKEN and Readout.GENERATION in available:
            logger.warning(
                "backend %r offers no log-probabilities; answers are generated and parsed",
                backend.name,
            )
            return question_format, Readout.GENERATION
        offered = ", ".join(sorted(r.value for r in available)) or "none"
        raise CapabilityError(
            f"backend {backend.name!r} cannot compute the {readout.value!r} readout that "
            f"question format {name!r} needs (it offers: {offered}); choose another "
            "--question-format or backend"
        )
    return question_format, readout


def _versions(registry: Registry) -> dict[str, str]:
    versions = {"python": platform.python_version(), "sycocore": __version__}
    for info in registry.plugins.values():
        if info.distribution and info.version and info.status == "loaded":
            versions[info.distribution] = info.version
    for library in KEY_LIBRARIES:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _config_payload(
    config: EvalConfig, plan: _Plan, question_format: QuestionFormat, readout: Readout
) -> dict[str, Any]:
    options = plan.backend_options.model_dump(
        mode="json", exclude=set(plan.backend_class.runtime_options)
    )
    return {
        "backend": config.backend,
        "backend_options": options,
        "dataset": config.dataset,
        "dataset_options": plan.dataset_info.options,
        "dataset_hash": plan.dataset_info.content_hash,
        "limit": config.limit,
        "baits": config.baits,
        "seed": config.seed,
        "manipulations": [m.name for m in plan.manipulations],
        "question_format": question_format.name,
        "question_format_hash": question_format.spec()["hash"],
        "readout": readout.value,
        "model_meta": config.model_meta,
    }


def default_run_dir(config: EvalConfig, payload: dict[str, Any], model_name: str) -> Path:
    """Derive a run directory from the configuration, so the same command resumes."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in model_name.lower())
    slug = slug.strip("-.")[-40:] or "model"
    digest = sha256_hex(canonical_json(payload))[:10]
    return config.runs_root / f"{config.backend}-{slug}-{payload['question_format']}-{digest}"


def _record(slot: _Slot, score: Score) -> Record:
    gold, bait = slot.gold_index, 1 - slot.gold_index
    logp_gold = score.logprobs[gold] if score.logprobs else None
    logp_bait = score.logprobs[bait] if score.logprobs else None
    margin: float | None
    if score.readout is Readout.GENERATION:
        if score.unparsed or score.choice is None:
            margin = None
        else:
            margin = 1.0 if score.choice == gold else -1.0
    elif logp_gold is None or logp_bait is None:
        margin = None
    else:
        margin = logp_gold - logp_bait
    counts = score.token_counts
    return Record(
        case_id=slot.case.id,
        item_id=slot.case.item.id,
        bait_id=slot.case.bait.id,
        condition=slot.condition.name,
        order=slot.order,
        readout=score.readout,
        logp_gold=logp_gold,
        logp_bait=logp_bait,
        margin=margin,
        bounded=any(score.bounded),
        unparsed=score.unparsed,
        gold_tokens=counts[gold] if counts else None,
        bait_tokens=counts[bait] if counts else None,
        request_key=slot.request.key,
    )


def _check_scores(backend: Backend, batch: Sequence[ScoreRequest], scores: list[Score]) -> None:
    if len(scores) != len(batch):
        raise PluginError(
            f"backend {backend.name!r} returned {len(scores)} scores for {len(batch)} requests"
        )
    for request, score in zip(batch, scores, strict=True):
        if score.readout is not Readout.GENERATION and len(score.logprobs) != len(
            request.candidates
        ):
            raise PluginError(
                f"backend {backend.name!r} returned {len(score.logprobs)} log-probabilities "
                f"for {len(request.candidates)} candidates"
            )


class _Runner:
    """Scores slots through the cache and the backend and appends their records."""

    def __init__(
        self,
        backend: Backend,
        store: RunStore,
        cache: ScoreCache | None,
        progress: Progress,
    ) -> None:
        self.backend = backend
        self.store = store
        self.cache = cache
        self.progress = progress
        self.scored = 0
        self.cached = 0

    def run(self, slots: Iterable[_Slot], description: str) -> None:
        by_request: dict[str, list[_Slot]] = {}
        requests: dict[str, ScoreRequest] = {}
        for slot in slots:
            if self.store.has((slot.case.id, slot.condition.name, slot.order)):
                continue
            by_request.setdefault(slot.request.key, []).append(slot)
            requests.setdefault(slot.request.key, slot.request)
        if not requests:
            return

        if self.cache is not None:
            hits = self.cache.get_many(list(requests.values()))
            self.store.append(_record(slot, hits[key]) for key in hits for slot in by_request[key])
            self.cached += len(hits)
            for key in hits:
                del requests[key]
        if not requests:
            return

        self.progress.start(len(requests), description)
        for batch in self.backend.schedule(list(requests.values())):
            try:
                scores = self.backend.score(batch)
            except SycoError:
                raise
            except Exception as error:
                logger.debug("backend %s raised while scoring", self.backend.name, exc_info=True)
                raise BackendError(
                    f"backend {self.backend.name!r} failed while scoring: "
                    f"{type(error).__name__}: {error}. Records scored so far are kept; "
                    "re-run the same command to resume"
                ) from error
            _check_scores(self.backend, batch, scores)
            if self.cache is not None:
                self.cache.put_many(zip(batch, scores, strict=True))
            self.store.append(
                _record(slot, score)
                for request, score in zip(batch, scores, strict=True)
                for slot in by_request[request.key]
            )
            self.scored += len(batch)
            self.progress.advance(len(batch))
        self.progress.finish()


def _expand(
    cases: Sequence[Case],
    question_format: QuestionFormat,
    manipulations: Sequence[Manipulation],
    readout: Readout,
    neutral_choice: Callable[[Case, str], str | None] | None = None,
) -> list[_Slot]:
    """Build the slots of every case and order for the given manipulations.

    Without ``neutral_choice`` the neutral condition is included; with it, only
    manipulations that build on the neutral answer are expanded.
    """
    slots = []
    for case in cases:
        for order in question_format.orders:
            formatted = question_format.format(case, order)
            if neutral_choice is None:
                request = ScoreRequest(
                    conversation=formatted.parts.to_conversation(),
                    candidates=formatted.candidates,
                    readout=readout,
                )
                slots.append(_Slot(case, NEUTRAL_CONDITION, order, request, formatted.gold_index))
            choice = neutral_choice(case, order) if neutral_choice else None
            if neutral_choice is not None and choice is None:
                continue
            for manipulation in manipulations:
                context = ManipulationContext(
                    case=case,
                    order=order,
                    gold_label=formatted.gold_label,
                    bait_label=formatted.bait_label,
                    neutral_choice=choice,
                )
                conversation = manipulation.build(formatted.parts, context)
                request = ScoreRequest(
                    conversation=conversation, candidates=formatted.candidates, readout=readout
                )
                slots.append(
                    _Slot(case, manipulation.condition, order, request, formatted.gold_index)
                )
    return slots


def _sample_answers(backend: Backend, store: RunStore, plan: _Plan, progress: Progress) -> None:
    """Store free-form answers per question when a metric asks for them."""
    specs = [spec for metric in plan.metrics if (spec := metric.generation_spec()) is not None]
    if not specs:
        return
    spec = max(specs, key=lambda s: s.samples)
    items: dict[str, Item] = {}
    for case in plan.cases:
        items.setdefault(case.item.id, case.item)
    # Items sampled with other settings (count, temperature, seed) are sampled
    # again; the new line supersedes the old one for readers.
    requested = spec.model_dump(mode="json")
    done = store.generated_items()
    pending = [item for item_id, item in items.items() if done.get(item_id) != requested]
    if not pending:
        return
    progress.start(len(pending), "sampling answers")
    for item in pending:
        try:
            samples = backend.generate(free_form_conversation(item), spec)
        except SycoError:
            raise
        except Exception as error:
            logger.debug("backend %s raised while sampling", backend.name, exc_info=True)
            raise BackendError(
                f"backend {backend.name!r} failed while sampling answers: "
                f"{type(error).__name__}: {error}. Re-run the same command to resume"
            ) from error
        store.append_generation(
            {
                "item_id": item.id,
                "gold": item.gold,
                "aliases": list(item.aliases),
                "samples": samples,
                "spec": requested,
            }
        )
        progress.advance(1)
    progress.finish()


def run_eval(
    config: EvalConfig,
    registry: Registry | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Run (or resume) one evaluation and return where it was written and its summary."""
    registry = registry or get_registry()
    progress = progress or _NoProgress()
    plan = _plan(config, registry)

    backend = plan.backend_class(plan.backend_options)
    cache: ScoreCache | None = None
    try:
        backend.load()
        identity = backend.identity()
        question_format, readout = _resolve_format(config, backend)
        payload = _config_payload(config, plan, question_format, readout)
        run_dir = config.out or default_run_dir(config, payload, identity.model)
        conditions = [NEUTRAL_CONDITION, *(m.condition for m in plan.manipulations)]
        manifest = RunManifest(
            run_id=secrets.token_hex(8),
            created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            config=payload,
            config_hash=sha256_hex(canonical_json(payload)),
            model=identity,
            backend_info={
                **backend.info(),
                "available_readouts": sorted(r.value for r in backend.available_readouts()),
            },
            dataset=plan.dataset_info,
            question_format=question_format.spec() | {"chance_share": question_format.chance_share},
            conditions=conditions,
            metrics=[metric.name for metric in plan.metrics],
            versions=_versions(registry),
            seed=config.seed,
        )
        store = RunStore.open(run_dir, manifest, resume=config.resume)
        logger.info("run directory: %s", run_dir)
        if config.use_cache:
            cache = ScoreCache(cache_dir() / "scores.sqlite3", identity)
        runner = _Runner(backend, store, cache, progress)

        direct = [m for m in plan.manipulations if not m.condition.needs_neutral_answer]
        follow_up = [m for m in plan.manipulations if m.condition.needs_neutral_answer]
        runner.run(_expand(plan.cases, question_format, direct, readout), "scoring")
        if follow_up:
            margins = {
                (r.case_id, r.order): r.margin
                for r in store.read().records
                if r.condition == NEUTRAL
            }

            def neutral_choice(case: Case, order: str) -> str | None:
                margin = margins.get((case.id, order))
                if margin is None:
                    return None
                return "gold" if margin > 0 else "bait"

            slots = _expand(plan.cases, question_format, follow_up, readout, neutral_choice)
            runner.run(slots, "scoring follow-up turns")
        _sample_answers(backend, store, plan, progress)
    finally:
        backend.close()
        if cache is not None:
            cache.close()

    expected = len(plan.cases) * len(question_format.orders) * len(conditions)
    try:
        result = finish_run(store.run_dir, plan.metrics, expected)
    finally:
        store.close()
    result.scored, result.cached = runner.scored, runner.cached
    return result


def finish_run(run_dir: Path, metrics: Sequence[Metric], expected: int) -> EvalResult:
    """Compute the metrics of a stored run, write ``summary.json`` and the reports."""
    run = read_run(run_dir)
    summary = summarize(run, metrics, expected)
    write_json_atomic(run_dir / SUMMARY, summary.model_dump(mode="json"))
    reports: list[Path] = []
    descriptions: dict[str, str] = {}
    for metric in metrics:
        result = summary.metrics.get(metric.name)
        if isinstance(result, dict):
            reports.extend(metric.write_report(run, result, run_dir))
            descriptions[metric.name] = metric.describe(result)
    return EvalResult(
        run_dir=run_dir,
        summary=summary,
        manifest=run.manifest,
        reports=reports,
        descriptions=descriptions,
    )


def summarize(run: RunData, metrics: Sequence[Metric], expected: int) -> Summary:
    """Compute every metric on ``run`` and collect counts and warnings."""
    warnings: list[str] = []
    results: dict[str, Any] = {}
    for metric in metrics:
        try:
            result = metric.compute(run)
        except SycoError:
            raise
        except Exception as error:
            logger.debug("metric %s raised", metric.name, exc_info=True)
            raise PluginError(
                f"metric {metric.name!r} failed: {type(error).__name__}: {error}"
            ) from error
        results[metric.name] = result
        warnings.extend(metric.warnings(result))
    records = run.records
    return Summary(
        run_id=run.manifest.run_id,
        complete=len(records) >= expected,
        records=len(records),
        expected_records=expected,
        bounded_records=sum(1 for r in records if r.bounded),
        unparsed_records=sum(1 for r in records if r.unparsed),
        warnings=warnings,
        metrics=results,
    )
