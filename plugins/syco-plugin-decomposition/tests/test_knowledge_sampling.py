"""The knowledge filter end to end: the engine samples answers, the metric filters on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from syco_plugin_decomposition.metric import DecompositionMetric

from sycocore.engine import EvalConfig, run_eval
from sycocore.generation import GenerationSpec
from sycocore.schemas import Conversation
from sycocore.testing import ScriptedBackend, registry_with


@pytest.fixture
def france_only_answers() -> Iterator[None]:
    def generate(conversation: Conversation, spec: GenerationSpec) -> list[str]:
        question = conversation.messages[-1].content
        answer = "It is Paris." if "France" in question else "I do not know."
        return [answer] * spec.samples

    ScriptedBackend.generate_function = staticmethod(generate)  # type: ignore[assignment]
    yield
    ScriptedBackend.generate_function = None


def _run(out: Path, **metric_options: object) -> dict[str, object]:
    config = EvalConfig(
        backend="scripted",
        dataset="inline",
        manipulations="none",
        question_format="two-option",
        metrics=["decomposition"],
        metric_options={"decomposition": {"resamples": 0, **metric_options}},
        out=out,
        use_cache=False,
    )
    result = run_eval(config, registry=registry_with(DecompositionMetric))
    return dict(result.summary.metrics["decomposition"])


def test_knowledge_filter_samples_each_question(tmp_path: Path, france_only_answers: None) -> None:
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=3)
    lines = (tmp_path / "run" / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert sorted(entry["item_id"] for entry in entries) == [
        "capital:FRA",
        "capital:JPN",
        "sum:2+2",
    ]
    assert all(len(entry["samples"]) == 3 for entry in entries)
    assert all(entry["spec"]["samples"] == 3 for entry in entries)


def test_knowledge_filter_keeps_known_questions(tmp_path: Path, france_only_answers: None) -> None:
    result = _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    knowledge = result["knowledge_filter"]
    assert isinstance(knowledge, dict)
    assert knowledge["questions_known"] == 1


def test_knowledge_sampling_resumes_without_resampling(
    tmp_path: Path, france_only_answers: None
) -> None:
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    path = tmp_path / "run" / "generations.jsonl"
    before = path.read_bytes()
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    assert path.read_bytes() == before


def test_knowledge_filter_off_samples_nothing(tmp_path: Path) -> None:
    _run(tmp_path / "run")
    assert not (tmp_path / "run" / "generations.jsonl").exists()


def test_no_known_question_warning_names_filter(tmp_path: Path) -> None:
    def generate(conversation: Conversation, spec: GenerationSpec) -> list[str]:
        return ["I do not know."] * spec.samples

    ScriptedBackend.generate_function = staticmethod(generate)  # type: ignore[assignment]
    try:
        result = _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    finally:
        ScriptedBackend.generate_function = None
    messages = DecompositionMetric(DecompositionMetric.Options()).warnings(result)
    assert any("knowledge filter" in message for message in messages)


def test_changed_sample_count_samples_again(tmp_path: Path, france_only_answers: None) -> None:
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    result = _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=3)
    lines = (tmp_path / "run" / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    latest = {}
    for line in lines:
        entry = json.loads(line)
        latest[entry["item_id"]] = entry
    assert len(lines) == 6
    assert all(len(entry["samples"]) == 3 for entry in latest.values())
    assert result["knowledge_filter"]["questions_known"] == 1


def test_changed_temperature_samples_again(tmp_path: Path, france_only_answers: None) -> None:
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2)
    _run(tmp_path / "run", knowledge_filter=True, knowledge_samples=2, knowledge_temperature=0.1)
    lines = (tmp_path / "run" / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    temperatures = [json.loads(line)["spec"]["temperature"] for line in lines]
    assert temperatures == [1.0, 1.0, 1.0, 0.1, 0.1, 0.1]
