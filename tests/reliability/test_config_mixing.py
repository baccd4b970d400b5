"""Resuming a run directory with another configuration is rejected, naming the difference.

Mixing the records of two configurations in one run directory would give
numbers that belong to neither, so :meth:`sycocore.store.RunStore.open`
compares the stored configuration and model identity with the new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from sycocore.engine import EvalConfig, EvalResult, run_eval
from sycocore.errors import RunStoreError
from sycocore.manipulations import template_manipulation
from sycocore.schemas import Item
from sycocore.testing import SAMPLE_ITEMS, InlineDataset, ScriptedOptions, registry_with

from ..conftest import SycoCli
from .support import SCRIPTED, assert_one_line_error

AUNT = template_manipulation(
    "aunt", "My aunt says it is {bait}.", family="authority", directional=True, description="aunt"
)
UNCLE = template_manipulation(
    "uncle", "My uncle says {bait}.", family="authority", directional=True, description="uncle"
)


class OtherDataset(InlineDataset):
    """The inline items without the last one, under another name."""

    name = "inline_other"
    items: ClassVar[tuple[Item, ...]] = SAMPLE_ITEMS[:2]


BASE: dict[str, Any] = {"manipulations": "aunt", "seed": 0}

# (what changes, options of the second run, text the refusal must contain)
CHANGES = [
    (
        "model",
        {"model": "other-model"},
        'backend_options.model: null in the run, "other-model" now',
    ),
    (
        "model identity",
        {"model": "other-model"},
        'model identity.model: "default" in the run, "other-model" now',
    ),
    ("dataset", {"dataset": "inline_other"}, 'dataset: "inline" in the run, "inline_other" now'),
    ("manipulations", {"manipulations": "aunt,uncle"}, 'manipulations: ["aunt"] in the run'),
    (
        "question format",
        {"question_format": "cloze"},
        'question_format: "two-option" in the run, "cloze" now',
    ),
    (
        "prompt format",
        {"prompt_format": "plain"},
        'backend_options.prompt_format: "auto" in the run, "plain" now',
    ),
    ("seed", {"seed": 7}, "seed: 0 in the run, 7 now"),
    ("limit", {"limit": 2}, "limit: null in the run, 2 now"),
    ("baits", {"baits": 1}, "baits: null in the run, 1 now"),
]


def _run(out: Path, **changes: Any) -> EvalResult:
    options = BASE | changes
    backend_options = {
        key: options.pop(key) for key in list(options) if key in ScriptedOptions.model_fields
    }
    config = EvalConfig(
        backend="scripted",
        backend_options=backend_options,
        dataset=options.pop("dataset", "inline"),
        question_format=options.pop("question_format", "two-option"),
        metrics=[],
        out=out,
        use_cache=False,
        **options,
    )
    return run_eval(config, registry=registry_with(AUNT, UNCLE, OtherDataset))


@pytest.mark.parametrize(("what", "changes", "expected"), CHANGES, ids=[c[0] for c in CHANGES])
def test_resume_other_config_rejected(
    tmp_path: Path, what: str, changes: dict[str, Any], expected: str
) -> None:
    out = tmp_path / "run"
    _run(out)
    records = (out / "records.jsonl").read_bytes()

    with pytest.raises(RunStoreError) as caught:
        _run(out, **changes)

    message = str(caught.value)
    assert "holds a run with another configuration" in message
    assert expected in message, message
    assert "--no-resume" in message
    assert (out / "records.jsonl").read_bytes() == records


def test_resume_other_batch_size_accepted(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = _run(out, batch_size=2)
    second = _run(out, batch_size=5)

    assert second.scored == 0
    assert second.summary.records == first.summary.records


@pytest.mark.slow
def test_cli_resume_other_model_rejected(syco_cli: SycoCli) -> None:
    run = (*SCRIPTED, "--metrics", "none", "--manipulations", "none", "--out", "run")
    syco_cli(*run, "--model", "first", check=True)
    records = (syco_cli.cwd / "run" / "records.jsonl").read_bytes()

    result = syco_cli(*run, "--model", "second")

    line = assert_one_line_error(result)
    assert 'backend_options.model: "first" in the run, "second" now' in line
    assert (syco_cli.cwd / "run" / "records.jsonl").read_bytes() == records
