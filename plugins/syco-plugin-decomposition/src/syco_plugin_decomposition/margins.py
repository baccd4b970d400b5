"""Margins per case and condition, built from the records of one run.

The margin of a case under a condition, ``S_c``, is the mean over the option
orders of the record margins ``logp_gold - logp_bait``. Averaging the orders
cancels a preference for one option letter or position. A (case, condition)
pair is complete only when every order of the question format has a record with
a margin; an incomplete pair (a missing order, an unparsed generation) gets no
margin and is counted, never guessed.

For the generation readout the record margin is +1 (the model answered gold)
or -1 (bait), so ``S_c`` is the mean vote over orders and every formula of the
decomposition applies unchanged; its unit is then votes, not nats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sycocore.metrics import RunData
from sycocore.schemas import NEUTRAL, Condition, Readout

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["MarginTable", "build_margin_table", "margin_unit"]


@dataclass
class MarginTable:
    """Truth margins and manipulated margins of the cases with a complete neutral margin.

    Arrays are aligned with :attr:`case_ids`, sorted by case id.
    """

    case_ids: list[str]
    """Cases whose neutral margin is complete."""
    item_ids: list[str]
    """The question of each case."""
    bait_ids: list[str]
    """The bait of each case."""
    truth_margin: NDArray[np.float64]
    """``S0`` of each case."""
    manipulated: dict[str, NDArray[np.float64]]
    """``S_t`` of each case by manipulation name; NaN where incomplete."""
    manipulations: list[Condition]
    """The manipulations of the run, in run order."""
    cases_total: int
    """Distinct cases that have at least one record."""
    neutral_incomplete: list[str] = field(default_factory=list)
    """Cases left out because their neutral margin is incomplete."""
    incomplete: dict[str, int] = field(default_factory=dict)
    """By manipulation: cases with a truth margin whose manipulated margin is incomplete."""
    records_total: int = 0
    """Records read."""
    bounded_records: int = 0
    """Records whose log-probabilities are bounds rather than exact values."""
    unparsed_records: int = 0
    """Generation-readout records whose answer matched neither candidate."""
    readouts: list[str] = field(default_factory=list)
    """Readouts that occur in the records."""
    orders: list[str] = field(default_factory=list)
    """Option orders a complete margin needs."""

    def delta(self, name: str) -> NDArray[np.float64]:
        """Return ``dS_t = S_t - S0`` for manipulation ``name``; NaN where incomplete."""
        return self.manipulated[name] - self.truth_margin


def margin_unit(readouts: list[str]) -> str:
    """Return the unit of margins read out as ``readouts``."""
    if readouts == [Readout.GENERATION.value]:
        return "votes (+1 gold, -1 bait)"
    return "nats"


def build_margin_table(run: RunData, keep_cases: set[str] | None = None) -> MarginTable:
    """Average the record margins of ``run`` over option orders.

    The orders a complete margin needs come from the manifest's question
    format; when it lists none, every order seen in the records is needed.
    ``keep_cases`` restricts the table to those case ids.
    """
    import numpy as np

    records = run.records
    if keep_cases is not None:
        records = [record for record in records if record.case_id in keep_cases]
    declared = run.manifest.question_format.get("orders")
    if isinstance(declared, list) and declared:
        orders = [str(order) for order in declared]
    else:
        orders = sorted({record.order for record in records})

    margins: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    case_item: dict[str, tuple[str, str]] = {}
    for record in records:
        margins[(record.case_id, record.condition)][record.order] = record.margin
        case_item[record.case_id] = (record.item_id, record.bait_id)

    def mean_margin(case_id: str, condition: str) -> float | None:
        by_order = margins.get((case_id, condition), {})
        values = [by_order.get(order) for order in orders]
        if any(value is None for value in values):
            return None
        complete = [float(value) for value in values if value is not None]
        return sum(complete) / len(complete)

    manipulations = [c for c in run.manifest.conditions if c.name != NEUTRAL]
    case_ids: list[str] = []
    truth: list[float] = []
    neutral_incomplete: list[str] = []
    for case_id in sorted(case_item):
        value = mean_margin(case_id, NEUTRAL)
        if value is None:
            neutral_incomplete.append(case_id)
        else:
            case_ids.append(case_id)
            truth.append(value)

    manipulated: dict[str, NDArray[np.float64]] = {}
    incomplete: dict[str, int] = {}
    for condition in manipulations:
        values = [mean_margin(case_id, condition.name) for case_id in case_ids]
        manipulated[condition.name] = np.array(
            [np.nan if value is None else value for value in values], dtype=np.float64
        )
        incomplete[condition.name] = sum(value is None for value in values)

    return MarginTable(
        case_ids=case_ids,
        item_ids=[case_item[case_id][0] for case_id in case_ids],
        bait_ids=[case_item[case_id][1] for case_id in case_ids],
        truth_margin=np.array(truth, dtype=np.float64),
        manipulated=manipulated,
        manipulations=manipulations,
        cases_total=len(case_item),
        neutral_incomplete=neutral_incomplete,
        incomplete=incomplete,
        records_total=len(records),
        bounded_records=sum(record.bounded for record in records),
        unparsed_records=sum(record.unparsed for record in records),
        readouts=sorted({record.readout.value for record in records}),
        orders=orders,
    )
