"""Runs built from a table of margins, for tests and worked examples.

A synthetic run has the manifest and records that ``syco eval`` would write
if a model had produced exactly the given margins, so every number the
decomposition reports can be checked by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sycocore.metrics import RunData
from sycocore.schemas import (
    Condition,
    DatasetInfo,
    ModelIdentity,
    Readout,
    Record,
    RunManifest,
)

TWO_OPTION: dict[str, Any] = {
    "name": "two-option",
    "readout": "next_token",
    "orders": ["gold_first", "bait_first"],
    "texts": {},
    "hash": "two-option-hash",
}

CONDITIONS = [
    Condition(name="neutral", family="neutral", directional=False),
    Condition(name="experts", family="authority", directional=True),
    Condition(name="very_sure", family="belief", directional=True),
    Condition(name="user_phd", family="control", directional=False),
]

__all__ = [
    "CONDITIONS",
    "TWO_OPTION",
    "Margins",
    "make_manifest",
    "make_records",
    "make_run",
    "uniform",
    "write_run_dir",
]

Margins = dict[tuple[str, str], dict[str, list[Any]]]
"""``margins[(item id, bait id)][condition]``: one margin per option order; ``None``
stands for an unparsed answer and ``"missing"`` for an absent record."""


def make_manifest(
    conditions: list[Condition] | None = None,
    question_format: dict[str, Any] | None = None,
    model: str = "test-model",
    seed: int = 7,
    config: dict[str, Any] | None = None,
    run_id: str = "run-a",
) -> RunManifest:
    """Return a manifest with the given conditions, question format, model and seed."""
    return RunManifest(
        run_id=run_id,
        created_at="2026-01-01T00:00:00Z",
        config=config or {},
        config_hash="0" * 64,
        model=ModelIdentity(backend="test", model=model),
        dataset=DatasetInfo(
            name="hand", license="MIT", source="tests", content_hash="0" * 64, items=0, cases=0
        ),
        question_format=dict(question_format or TWO_OPTION),
        conditions=list(conditions or CONDITIONS),
        metrics=["decomposition"],
        versions={},
        seed=seed,
    )


def make_records(
    margins: Margins,
    orders: tuple[str, ...] = ("gold_first", "bait_first"),
    readout: Readout = Readout.NEXT_TOKEN,
) -> list[Record]:
    """Return the records that give ``margins``, sorted by key.

    Log-probabilities are set to ``-20 +/- margin / 2``, so margins must lie
    within (-40, 40). The generation readout stores the margin as given (+1 or
    -1) without log-probabilities.
    """
    records = []
    for (item, bait), by_condition in margins.items():
        for condition, values in by_condition.items():
            for order, margin in zip(orders, values, strict=True):
                if margin == "missing":
                    continue
                if readout is Readout.GENERATION or margin is None:
                    gold = bait_logp = None
                else:
                    gold, bait_logp = -20.0 + margin / 2, -20.0 - margin / 2
                records.append(
                    Record(
                        case_id=f"{item}::{bait}",
                        item_id=item,
                        bait_id=bait,
                        condition=condition,
                        order=order,
                        readout=readout,
                        logp_gold=gold,
                        logp_bait=bait_logp,
                        margin=margin,
                        unparsed=margin is None and readout is Readout.GENERATION,
                        request_key=f"{item}-{bait}-{condition}-{order}",
                    )
                )
    return sorted(records, key=lambda r: r.key)


def make_run(margins: Margins, **manifest_options: Any) -> RunData:
    """Return a run with ``margins``; ``manifest_options`` go to :func:`make_manifest`."""
    return RunData(manifest=make_manifest(**manifest_options), records=make_records(margins))


def write_run_dir(path: Path, run: RunData, truncated_tail: bool = False) -> Path:
    """Write ``run`` as manifest.json and records.jsonl under ``path`` and return ``path``.

    ``truncated_tail`` appends half a record as the last line, as a crash would.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(run.manifest.model_dump_json(), encoding="utf-8")
    lines = [record.model_dump_json() for record in run.records]
    text = "\n".join(lines) + "\n"
    if truncated_tail:
        text += lines[0][: len(lines[0]) // 2]
    (path / "records.jsonl").write_text(text, encoding="utf-8")
    return path


def uniform(
    neutral: float, experts: float, very_sure: float, user_phd: float
) -> dict[str, list[Any]]:
    """Margins equal in both orders."""
    return {
        "neutral": [neutral, neutral],
        "experts": [experts, experts],
        "very_sure": [very_sure, very_sure],
        "user_phd": [user_phd, user_phd],
    }
