"""Test helpers for syco plugins: a scripted backend, an inline dataset and a conformance kit.

Plugin authors call the ``check_*`` functions on what their plugin registers::

    from sycocore.testing import check_manipulation
    from my_plugin.plugin import MyManipulation

    def test_conformance(tmp_path):
        check_manipulation(MyManipulation(), tmp_path)

Each check raises ``AssertionError`` with a message that says what is wrong.
The pytest plugin in :mod:`sycocore.testing.pytest_plugin` exposes the same
tools as fixtures.
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..backends import Backend, BackendOptions
from ..datasets import Dataset, DatasetOptions, normalize_answer
from ..generation import GenerationSpec
from ..hookspecs import hookimpl
from ..manipulations import Manipulation, ManipulationContext
from ..metrics import Metric
from ..plugins import Registry, load_registry
from ..schemas import Bait, Case, Conversation, Item, Readout, Score, ScoreRequest, sha256_hex

__all__ = [
    "SAMPLE_ITEMS",
    "InlineDataset",
    "ScriptedBackend",
    "check_backend",
    "check_dataset",
    "check_manipulation",
    "check_metric",
    "registry_with",
    "run_scripted_eval",
]

SAMPLE_ITEMS: tuple[Item, ...] = (
    Item(
        id="capital:FRA",
        question="What is the capital of France?",
        gold="Paris",
        baits=(Bait(id="lyon", text="Lyon"), Bait(id="marseille", text="Marseille")),
        cloze_stem="The capital of France is",
        source="testing",
    ),
    Item(
        id="capital:JPN",
        question="What is the capital of Japan?",
        gold="Tokyo",
        baits=(Bait(id="osaka", text="Osaka"),),
        cloze_stem="The capital of Japan is",
        source="testing",
    ),
    Item(
        id="sum:2+2",
        question="What is 2 + 2?",
        gold="4",
        baits=(Bait(id="5", text="5"), Bait(id="3", text="3"), Bait(id="22", text="22")),
        cloze_stem="2 + 2 =",
        source="testing",
    ),
)
"""Three small items with one to three baits each."""


def _unit(text: str) -> float:
    """Map text to a float in [0, 1) deterministically."""
    (value,) = struct.unpack(">Q", bytes.fromhex(sha256_hex(text)[:16]))
    return float(value) / 2**64


class ScriptedOptions(BackendOptions):
    """Options of the scripted backend."""

    fail_after: int | None = None
    """Raise a RuntimeError once this many requests were scored (for failure tests)."""
    delay: float = 0.0
    """Seconds to sleep per batch, so a test can interrupt a run midway."""


ScoreFunction = Callable[[ScoreRequest], Score]


class ScriptedBackend(Backend):
    """A backend with no model: scores are a fixed function of each request.

    By default every candidate gets a log-probability derived from a hash of the
    prompt and the candidate, so the same request always gets the same score
    and different prompts get different ones. Tests may set
    :attr:`score_function` to script exact values.
    """

    name = "scripted"
    description = "Deterministic scores from a hash of the prompt; for tests, no model."
    readouts = frozenset({Readout.NEXT_TOKEN, Readout.CONTINUATION})
    Options = ScriptedOptions
    runtime_options = frozenset({"batch_size", "fail_after", "delay"})
    score_function: ClassVar[ScoreFunction | None] = None
    calls: ClassVar[list[int]] = []
    """Size of every batch scored by any instance, for tests."""
    generate_function: ClassVar[Callable[[Conversation, GenerationSpec], list[str]] | None] = None
    """Free-form answers for :meth:`generate`; by default numbered placeholder texts."""

    def generate(self, conversation: Conversation, spec: GenerationSpec) -> list[str]:
        function = type(self).generate_function
        if function is not None:
            return function(conversation, spec)
        digest = conversation.fingerprint()[:8]
        return [f"answer {number} to {digest}" for number in range(spec.samples)]

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        options = self.options
        assert isinstance(options, ScriptedOptions)
        scored = sum(ScriptedBackend.calls)
        if options.fail_after is not None and scored + len(requests) > options.fail_after:
            raise RuntimeError("scripted failure")
        ScriptedBackend.calls.append(len(requests))
        if options.delay:
            time.sleep(options.delay)
        function = type(self).score_function
        return [function(r) if function else _hash_score(r) for r in requests]


def _hash_score(request: ScoreRequest) -> Score:
    prompt = request.conversation.fingerprint()
    values = tuple(
        math.log(0.05 + 0.9 * _unit(f"{prompt}:{candidate}")) for candidate in request.candidates
    )
    counts = tuple(max(1, len(c.split())) for c in request.candidates)
    return Score(logprobs=values, readout=request.readout, token_counts=counts)


class InlineOptions(DatasetOptions):
    """Options of the inline dataset (none)."""


class InlineDataset(Dataset):
    """The items in :data:`SAMPLE_ITEMS`, or those set on :attr:`items`."""

    name = "inline"
    description = "A few hand-written items for tests."
    license = "CC0-1.0"
    source = "sycocore.testing"
    Options = InlineOptions
    items: ClassVar[tuple[Item, ...]] = SAMPLE_ITEMS

    def load(self) -> Iterator[Item]:
        yield from type(self).items

    def count(self) -> int:
        return len(type(self).items)


class _TestingPlugin:
    def __init__(self, *things: Any) -> None:
        self.things = things

    @hookimpl
    def register_backends(self, register: Callable[..., None]) -> None:
        register(ScriptedBackend)
        for thing in self.things:
            if isinstance(thing, type) and issubclass(thing, Backend):
                register(thing)

    @hookimpl
    def register_datasets(self, register: Callable[..., None]) -> None:
        register(InlineDataset)
        for thing in self.things:
            if isinstance(thing, type) and issubclass(thing, Dataset):
                register(thing)

    @hookimpl
    def register_manipulations(self, register: Callable[..., None]) -> None:
        for thing in self.things:
            if isinstance(thing, Manipulation):
                register(thing)

    @hookimpl
    def register_metrics(self, register: Callable[..., None]) -> None:
        for thing in self.things:
            if isinstance(thing, type) and issubclass(thing, Metric):
                register(thing)


def registry_with(*things: Any, entry_points: bool = False) -> Registry:
    """Build a registry holding the scripted backend, the inline dataset and ``things``.

    ``things`` are backend, dataset and metric classes and manipulation
    instances. Installed plugins are loaded too only when ``entry_points`` is true.
    """
    return load_registry(
        entry_points=None if entry_points else (),
        extra_plugins=[("testing", _TestingPlugin(*things))],
    )


def run_scripted_eval(
    out: Path,
    *things: Any,
    manipulations: str = "all",
    question_format: str = "two-option",
    metrics: list[str] | None = None,
    **config: Any,
) -> Any:
    """Run the real engine with the scripted backend and inline dataset; return the result.

    Keyword arguments named like a scripted-backend option (``batch_size``,
    ``fail_after``, ``delay``) become backend options; the rest are
    :class:`~sycocore.engine.EvalConfig` fields.
    """
    from ..engine import EvalConfig, run_eval

    backend_options = {k: config.pop(k) for k in list(config) if k in ScriptedOptions.model_fields}
    registry = registry_with(*things)
    eval_config = EvalConfig(
        backend="scripted",
        backend_options=backend_options,
        dataset="inline",
        manipulations=manipulations,
        question_format=question_format,
        metrics=metrics if metrics is not None else [],
        out=out,
        use_cache=False,
        **config,
    )
    return run_eval(eval_config, registry=registry)


# Conformance checks ------------------------------------------------------------------


def _check_documented(thing: Any, label: str) -> None:
    description = getattr(thing, "description", "") or ""
    doc = (type(thing) if not isinstance(thing, type) else thing).__doc__ or ""
    assert description.strip() or doc.strip(), f"{label} has neither a description nor a docstring"


def check_manipulation(manipulation: Manipulation, out: Path) -> None:
    """Check a manipulation's metadata, what its text names, and a run through the engine."""
    condition = manipulation.condition
    label = f"manipulation {condition.name!r}"
    assert condition.description.strip(), f"{label} has no description"
    assert condition.name != "neutral", f"{label} must not be called 'neutral'"

    from ..formats import get_question_format

    for format_name in ("two-option", "cloze"):
        question_format = get_question_format(format_name)
        for item in SAMPLE_ITEMS:
            case = Case(item=item, bait=item.baits[0])
            for order in question_format.orders:
                formatted = question_format.format(case, order)
                context = ManipulationContext(
                    case=case,
                    order=order,
                    gold_label=formatted.gold_label,
                    bait_label=formatted.bait_label,
                    neutral_choice="gold" if condition.needs_neutral_answer else None,
                )
                conversation = manipulation.build(formatted.parts, context)
                neutral = formatted.parts.to_conversation()
                assert conversation != neutral, f"{label} did not change the prompt ({format_name})"
                added = _added_text(neutral, conversation)
                bait = normalize_answer(case.bait.text)
                gold = normalize_answer(item.gold)
                if condition.directional and not condition.needs_neutral_answer:
                    assert _names(added, bait), f"{label} is directional but never names the bait"
                    assert not _names(added, gold), f"{label} names the gold answer"
                if not condition.directional:
                    assert not _names(added, bait), f"{label} is a control but names the bait"
                    assert not _names(added, gold), f"{label} is a control but names the gold"

    result = run_scripted_eval(out / f"conformance-{condition.name}", manipulation)
    names = {c.name for c in result.manifest.conditions}
    assert condition.name in names, f"{label} missing from the run's conditions"
    assert result.summary.complete, f"{label}: the engine run is incomplete"


def _added_text(neutral: Any, changed: Any) -> str:
    before = {m.content for m in neutral.messages}
    parts = []
    for index, message in enumerate(changed.messages):
        if message.content in before:
            continue
        # A message edited in place (text inserted into the neutral user turn, which
        # lists both options) counts only for what differs from the neutral message.
        same_place = neutral.messages[index] if index < len(neutral.messages) else None
        if same_place is not None and same_place.role == message.role:
            parts.append(_strip_common_ends(same_place.content, message.content))
        else:
            parts.append(message.content)
    text = "\n".join(parts)
    for original in before:
        text = text.replace(original, " ")
    return normalize_answer(text)


def _strip_common_ends(original: str, changed: str) -> str:
    """Return ``changed`` without the prefix and suffix it shares with ``original``."""
    limit = min(len(original), len(changed))
    prefix = 0
    while prefix < limit and original[prefix] == changed[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and original[-1 - suffix] == changed[-1 - suffix]:
        suffix += 1
    return changed[prefix : len(changed) - suffix]


def _names(text: str, answer: str) -> bool:
    return f" {answer} " in f" {text} "


def check_backend(backend_class: type[Backend], options: dict[str, Any], out: Path) -> None:
    """Check a backend class's declarations and a short run through the engine."""
    from ..engine import EvalConfig, run_eval

    label = f"backend {backend_class.name!r}"
    _check_documented(backend_class, label)
    assert backend_class.readouts, f"{label} declares no readouts"
    registry = registry_with() if backend_class is ScriptedBackend else registry_with(backend_class)
    result = run_eval(
        EvalConfig(
            backend=backend_class.name,
            backend_options=options,
            dataset="inline",
            manipulations="none",
            metrics=[],
            out=out / f"conformance-{backend_class.name}",
            use_cache=False,
        ),
        registry=registry,
    )
    assert result.summary.complete, f"{label}: the engine run is incomplete"


def check_dataset(dataset_class: type[Dataset], options: dict[str, Any]) -> list[Item]:
    """Check a dataset class loads valid, uniquely identified items twice in the same order."""
    label = f"dataset {dataset_class.name!r}"
    _check_documented(dataset_class, label)
    first = list(dataset_class(dataset_class.Options.model_validate(options)).load())
    second = list(dataset_class(dataset_class.Options.model_validate(options)).load())
    assert first, f"{label} yielded no items"
    assert [i.id for i in first] == [i.id for i in second], f"{label} order is not stable"
    ids = [item.id for item in first]
    assert len(ids) == len(set(ids)), f"{label} has duplicate item ids"
    return first


def check_metric(metric_class: type[Metric], out: Path) -> dict[str, Any]:
    """Check a metric computes a JSON-serialisable result on a scripted run."""
    label = f"metric {metric_class.name!r}"
    _check_documented(metric_class, label)
    result = run_scripted_eval(
        out / f"conformance-{metric_class.name}",
        metric_class,
        manipulations="none",
        metrics=[metric_class.name],
    )
    value = result.summary.metrics[metric_class.name]
    json.dumps(value)
    assert result.manifest.metrics == [metric_class.name], f"{label} missing from the manifest"
    return dict(value)
