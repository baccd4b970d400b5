"""The score cache returns a score only for the same request to the same model.

A hit for another model, prompt format or question format would put one
model's numbers into another model's run without any sign of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sycocore.engine import EvalConfig, EvalResult, run_eval
from sycocore.testing import registry_with


def _run(out: Path, **backend_options: Any) -> EvalResult:
    question_format = backend_options.pop("question_format", "two-option")
    config = EvalConfig(
        backend="scripted",
        backend_options=backend_options,
        dataset="inline",
        manipulations="none",
        question_format=question_format,
        metrics=[],
        out=out,
    )
    return run_eval(config, registry=registry_with())


def test_cache_hit_same_model_other_run(tmp_path: Path) -> None:
    first = _run(tmp_path / "first", model="a")
    second = _run(tmp_path / "second", model="a")

    assert first.scored == 12
    assert second.scored == 0
    assert second.cached == 12
    first_lines = (tmp_path / "first" / "records.jsonl").read_text("utf-8").splitlines()
    second_lines = (tmp_path / "second" / "records.jsonl").read_text("utf-8").splitlines()
    assert sorted(second_lines) == sorted(first_lines)


@pytest.mark.parametrize(
    "change",
    [{"model": "b"}, {"model": "a", "prompt_format": "plain"}, {"question_format": "cloze"}],
    ids=["other model", "other prompt format", "other question format"],
)
def test_cache_miss_other_identity(tmp_path: Path, change: dict[str, Any]) -> None:
    _run(tmp_path / "first", model="a")
    options = {"model": "a"} | change
    other = _run(tmp_path / "other", **options)

    assert other.cached == 0
    assert other.scored == other.summary.expected_records
