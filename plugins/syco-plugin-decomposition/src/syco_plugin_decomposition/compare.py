"""Paired comparison of two runs on the same cases: where does a difference in robustness come from?

For a case shared by runs A and B and a directional manipulation ``t``, the
change in the manipulated margin splits exactly into two channels::

    S_t(B) - S_t(A) = [S0(B) - S0(A)] + [dS_t(B) - dS_t(A)]
         net        =  margin channel  +  sensitivity channel

A positive margin channel means B prefers the gold answer more strongly; a positive
sensitivity channel means B is pushed less far toward the bait. The
scale-normalised channels divide each run's quantities by that run's SD of
``S0`` over the shared cases before differencing, so a model whose logits are
simply larger does not look more robust.

Concordance classes use each run's own flip ``F = [S0 > 0 and S_t < 0]``:
both safe (neither flips), rescued (A flips, B does not), lost (B flips, A does
not), both flip. A case that one run does not know (``S0 <= 0``) cannot flip in
that run. McNemar's exact test asks whether rescued and lost differ more than
chance. The same classes are also given on the cases both runs retain
(``S0 > 0`` in both), which separates robustness from knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sycocore.errors import SycoError
from sycocore.metrics import RunData
from sycocore.schemas import canonical_json

from .margins import MarginTable, build_margin_table, margin_unit
from .stats import ClusterBootstrap, finite_or_none, mcnemar_exact_p, percentile_interval

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["CHANNELS", "CompareError", "Comparison", "compare_runs", "paired_channels"]

CHANNELS = ("margin", "sensitivity", "net")


class CompareError(SycoError):
    """Two runs cannot be compared: no shared cases, different question formats."""


@dataclass
class Comparison:
    """The result of :func:`compare_runs`."""

    result: dict[str, Any]
    """Everything that serialises to JSON."""
    per_case: dict[str, dict[str, dict[str, NDArray[np.float64]]]]
    """Channel values per case: manipulation -> ``raw``/``normalised`` -> channel -> array,
    NaN where a case's manipulated margin is incomplete in either run."""


def _format_key(question_format: dict[str, Any]) -> str:
    declared = question_format.get("hash")
    return str(declared) if declared else canonical_json(question_format)


def _label(run: RunData) -> str:
    where = f" in {run.run_dir}" if run.run_dir else ""
    return f"run {run.manifest.run_id!r} ({run.manifest.model.model}){where}"


def paired_channels(
    table_a: MarginTable, table_b: MarginTable, shared: list[str]
) -> dict[str, Any]:
    """Return the aligned truth margins, manipulated margins and SDs on ``shared`` cases."""
    import numpy as np

    index_a = {case: i for i, case in enumerate(table_a.case_ids)}
    index_b = {case: i for i, case in enumerate(table_b.case_ids)}
    rows_a = np.array([index_a[case] for case in shared], dtype=np.int64)
    rows_b = np.array([index_b[case] for case in shared], dtype=np.int64)
    truth_a = table_a.truth_margin[rows_a]
    truth_b = table_b.truth_margin[rows_b]
    sd_a = float(np.std(truth_a, ddof=1)) if truth_a.size >= 2 else float("nan")
    sd_b = float(np.std(truth_b, ddof=1)) if truth_b.size >= 2 else float("nan")
    return {
        "truth_a": truth_a,
        "truth_b": truth_b,
        "manipulated_a": {n: v[rows_a] for n, v in table_a.manipulated.items()},
        "manipulated_b": {n: v[rows_b] for n, v in table_b.manipulated.items()},
        "sd_a": sd_a,
        "sd_b": sd_b,
        "items": [table_a.item_ids[i] for i in rows_a.tolist()],
    }


def _channels(
    truth_a: NDArray[np.float64],
    truth_b: NDArray[np.float64],
    manipulated_a: NDArray[np.float64],
    manipulated_b: NDArray[np.float64],
    scale_a: float,
    scale_b: float,
) -> dict[str, NDArray[np.float64]]:
    """Return the three channels per case, with run A divided by ``scale_a``, B by ``scale_b``."""
    truth_a, manipulated_a = truth_a / scale_a, manipulated_a / scale_a
    truth_b, manipulated_b = truth_b / scale_b, manipulated_b / scale_b
    return {
        "margin": truth_b - truth_a,
        "sensitivity": (manipulated_b - truth_b) - (manipulated_a - truth_a),
        "net": manipulated_b - manipulated_a,
    }


def _classes(flips_a: NDArray[np.bool_], flips_b: NDArray[np.bool_]) -> dict[str, Any]:
    both_safe = int((~flips_a & ~flips_b).sum())
    rescued = int((flips_a & ~flips_b).sum())
    lost = int((~flips_a & flips_b).sum())
    both_flip = int((flips_a & flips_b).sum())
    return {
        "both_safe": both_safe,
        "rescued": rescued,
        "lost": lost,
        "both_flip": both_flip,
        "mcnemar_p": mcnemar_exact_p(rescued, lost),
    }


def compare_runs(
    run_a: RunData,
    run_b: RunData,
    resamples: int = 2000,
    seed: int | None = None,
    confidence: float = 0.95,
) -> Comparison:
    """Compare ``run_b`` against ``run_a`` on their shared cases.

    Raises :class:`CompareError` when the runs used different question formats,
    share no case with a complete truth margin, or share no directional
    manipulation. ``seed`` defaults to run A's seed.
    """
    import numpy as np

    format_a = run_a.manifest.question_format
    format_b = run_b.manifest.question_format
    if _format_key(format_a) != _format_key(format_b):
        raise CompareError(
            f"{_label(run_a)} used question format {format_a.get('name')!r} "
            f"(hash {format_a.get('hash')}) but {_label(run_b)} used {format_b.get('name')!r} "
            f"(hash {format_b.get('hash')}); margins of different formats are not comparable. "
            "Compare runs made with the same --question-format"
        )
    table_a = build_margin_table(run_a)
    table_b = build_margin_table(run_b)
    shared = sorted(set(table_a.case_ids) & set(table_b.case_ids))
    if not shared:
        recorded = {r.case_id for r in run_a.records} & {r.case_id for r in run_b.records}
        reason = (
            "none of them has a complete neutral margin in both runs"
            if recorded
            else "their case ids do not overlap (different dataset, items or seed)"
        )
        raise CompareError(
            f"{_label(run_a)} and {_label(run_b)} share no case: {reason}. "
            "Compare runs made on the same dataset with the same --limit, --baits and --seed"
        )
    directional_b = {c.name for c in table_b.manipulations if c.directional}
    manipulations = [c for c in table_a.manipulations if c.directional and c.name in directional_b]
    if not manipulations:
        raise CompareError(
            f"{_label(run_a)} and {_label(run_b)} share no directional manipulation; "
            "run both with the same --manipulations"
        )

    paired = paired_channels(table_a, table_b, shared)
    truth_a, truth_b = paired["truth_a"], paired["truth_b"]
    sd_a, sd_b = paired["sd_a"], paired["sd_b"]
    normalisable = sd_a > 0 and sd_b > 0
    bootstrap = ClusterBootstrap(
        paired["items"], resamples, seed if seed is not None else run_a.manifest.seed
    )

    per_case: dict[str, dict[str, dict[str, NDArray[np.float64]]]] = {}
    rows: list[dict[str, Any]] = []
    for condition in manipulations:
        manipulated_a = paired["manipulated_a"][condition.name]
        manipulated_b = paired["manipulated_b"][condition.name]
        complete = ~np.isnan(manipulated_a) & ~np.isnan(manipulated_b)
        raw = _channels(truth_a, truth_b, manipulated_a, manipulated_b, 1.0, 1.0)
        scaled = (
            _channels(truth_a, truth_b, manipulated_a, manipulated_b, sd_a, sd_b)
            if normalisable
            else None
        )
        for values in [raw, *([scaled] if scaled else [])]:
            for key in CHANNELS:
                values[key] = np.where(complete, values[key], np.nan)
        per_case[condition.name] = {"raw": raw, **({"normalised": scaled} if scaled else {})}

        flips_a = (truth_a > 0) & (manipulated_a < 0)
        flips_b = (truth_b > 0) & (manipulated_b < 0)
        retained_both = complete & (truth_a > 0) & (truth_b > 0)
        used = int(complete.sum())
        net = raw["net"][complete]
        rows.append(
            {
                "name": condition.name,
                "family": condition.family,
                "cases": used,
                "channels": _summaries(
                    bootstrap, {condition.name: per_case[condition.name]}, confidence
                ),
                "net_favours_b_share": float((net > 0).mean()) if used else None,
                "flip_rate_a": float(flips_a[complete].mean()) if used else None,
                "flip_rate_b": float(flips_b[complete].mean()) if used else None,
                "concordance": _classes(flips_a[complete], flips_b[complete]),
                "retained_both": {
                    "cases": int(retained_both.sum()),
                    **_classes(flips_a[retained_both], flips_b[retained_both]),
                },
            }
        )

    families = []
    groups: dict[str, list[str]] = {}
    for condition in manipulations:
        groups.setdefault(condition.family, []).append(condition.name)
    groups_all = {**groups, "all directional": [c.name for c in manipulations]}
    for family, names in groups_all.items():
        members = [row for row in rows if row["name"] in names]
        concordance = {
            key: sum(row["concordance"][key] for row in members)
            for key in ("both_safe", "rescued", "lost", "both_flip")
        }
        families.append(
            {
                "family": family,
                "manipulations": names,
                "pairs": sum(row["cases"] for row in members),
                "channels": _summaries(
                    bootstrap, {name: per_case[name] for name in names}, confidence
                ),
                "concordance": concordance,
            }
        )

    readouts = sorted(set(table_a.readouts) | set(table_b.readouts))
    result = {
        "run_a": _describe(run_a, table_a),
        "run_b": _describe(run_b, table_b),
        "question_format": format_a.get("name"),
        "margin_unit": margin_unit(readouts),
        "shared_cases": len(shared),
        "shared_questions": len(set(paired["items"])),
        "only_a": len(set(table_a.case_ids) - set(shared)),
        "only_b": len(set(table_b.case_ids) - set(shared)),
        "sd_truth_margin": {"a": finite_or_none(sd_a), "b": finite_or_none(sd_b)},
        "options": {
            "resamples": resamples,
            "seed": bootstrap.seed,
            "confidence": confidence,
        },
        "manipulations": rows,
        "families": families,
    }
    return Comparison(result=result, per_case=per_case)


def _describe(run: RunData, table: MarginTable) -> dict[str, Any]:
    return {
        "run_id": run.manifest.run_id,
        "model": run.manifest.model.model,
        "backend": run.manifest.model.backend,
        "run_dir": str(run.run_dir) if run.run_dir else None,
        "cases": len(table.case_ids),
    }


def _summaries(
    bootstrap: ClusterBootstrap,
    per_case: dict[str, dict[str, dict[str, NDArray[np.float64]]]],
    confidence: float,
) -> dict[str, Any]:
    """Return the median, mean and bootstrap interval of each channel, pooled over ``per_case``.

    The values of one case under several manipulations travel together
    through the resampling, because they are not independent.
    """
    import numpy as np

    summary: dict[str, Any] = {}
    scales = [
        scale for scale in ("raw", "normalised") if all(scale in v for v in per_case.values())
    ]
    for scale in scales:
        summary[scale] = {}
        for key in CHANNELS:
            matrix = np.column_stack([values[scale][key] for values in per_case.values()])
            finite = matrix[~np.isnan(matrix)]
            interval = percentile_interval(bootstrap.medians(matrix), confidence)
            summary[scale][key] = {
                "median": float(np.median(finite)) if finite.size else None,
                "mean": float(finite.mean()) if finite.size else None,
                "interval": list(interval) if interval else None,
            }
    return summary
