"""Analysis across the models of a sweep: worst-case flip rate against size, regime and family.

Three analyses, each on the worst-case flip rate ``w`` of every model (the
largest hierarchical flip rate over manipulations):

- an OLS regression of ``logit(w)`` on the term groups *size*
  (``log10`` of the parameters in billions, centred on the models' mean),
  *regime* (treatment dummies, reference ``base`` when present),
  *size x regime* (the centred size times each regime dummy) and *family*
  (treatment dummies). Each group's share of the explained variance is its
  LMG value: the R^2 increment the group adds, averaged over every order in
  which the groups can enter the model. The LMG values sum to the model's
  R^2, and their model-level bootstrap (models drawn with replacement)
  gives an interval for each share;
- paired differences ``w(instruct) - w(base)`` of the pairs the sweep file
  declares, split by size, with a sign test, the Wilcoxon signed-rank test and
  a sign-flip permutation test of the mean difference;
- the channel decomposition of :func:`~.compare.compare_runs` for every pair.

``w`` is clamped to ``[CLAMP, 1 - CLAMP]`` before the logit, because models
that never or always flip have an infinite logit.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycocore.errors import SycoError
from sycocore.store import SUMMARY
from sycocore.sweep import SweepState, read_sweep_state

from .decomposition import DecompositionOptions, decompose
from .runs import read_run
from .stats import finite_or_none, percentile_interval

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CLAMP",
    "GROUPS",
    "SIZE_SPLIT_B",
    "ModelPoint",
    "design_groups",
    "lmg",
    "load_points",
    "paired_differences",
    "r_squared",
    "regression",
]

logger = logging.getLogger(__name__)

CLAMP = 0.01
"""Worst-case flip rates are clamped to [CLAMP, 1 - CLAMP] before the logit,
so the logit lies within about +-4.6."""
SIZE_SPLIT_B = 4.0
"""Pairs up to this size (billions of parameters) form the small group."""
GROUPS = ("size", "regime", "size x regime", "family")
"""Term groups of the regression, in the order they are reported."""
MAX_EXACT_PERMUTATIONS = 2**16
"""The permutation test enumerates every sign flip up to this many; above, it samples."""


@dataclass
class ModelPoint:
    """One model of a sweep with its worst-case flip rate."""

    name: str
    family: str
    size_b: float
    regime: str
    pair: str | None
    run_dir: Path
    worst: float | None = None
    """Worst-case flip rate; ``None`` when the run is incomplete or has no flip rate."""
    interval: list[float] | None = None
    manipulation: str | None = None
    """Manipulation with the largest flip rate."""
    retained: int | None = None
    competent: bool | None = None
    status: str = "pending"
    """``complete`` when the run has a complete summary, else the status in ``sweep.json``."""
    note: str | None = None
    """Reason the model has no worst-case flip rate."""


def _decomposition(run_dir: Path, options: DecompositionOptions) -> dict[str, Any] | None:
    """Return the decomposition result in the run's summary, or compute it from the records.

    Returns ``None`` when the run has no complete summary.
    """
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("complete") is not True:
        return None
    metrics = summary.get("metrics")
    stored = metrics.get("decomposition") if isinstance(metrics, dict) else None
    if isinstance(stored, dict) and "worst_case" in stored:
        return stored
    return decompose(read_run(run_dir), options)


def load_points(
    sweep_dir: Path, options: DecompositionOptions
) -> tuple[SweepState, list[ModelPoint]]:
    """Read ``sweep.json`` and the worst-case flip rate of every model's run.

    The decomposition result stored in a run's ``summary.json`` is used as it
    is. A run computed without the decomposition metric is decomposed from its
    records with ``options``. A model whose run is incomplete keeps
    ``worst = None`` and a note.
    """
    sweep_dir = Path(sweep_dir)
    state = read_sweep_state(sweep_dir)
    points = []
    for status in state.models:
        point = ModelPoint(
            name=status.name,
            family=status.family,
            size_b=status.size_b,
            regime=status.regime,
            pair=status.pair,
            run_dir=sweep_dir / status.run_dir,
            status=status.status,
        )
        result = _decomposition(point.run_dir, options)
        if result is None:
            point.note = f"no complete run ({status.status})"
        else:
            point.status = "complete"
            worst = result.get("worst_case")
            if worst:
                point.worst = float(worst["flip_rate"])
                point.interval = worst.get("interval")
                point.manipulation = worst.get("manipulation")
            else:
                point.note = "no flip rate: no case has a positive truth margin"
            point.retained = result["cases"]["retained"]
            point.competent = bool(result["competence"]["competent"])
        points.append(point)
    return state, points


def logit(rates: NDArray[np.float64], clamp: float = CLAMP) -> NDArray[np.float64]:
    """Return ``log(p / (1 - p))`` of the rates clamped to ``[clamp, 1 - clamp]``."""
    import numpy as np

    clamped = np.clip(rates, clamp, 1.0 - clamp)
    result: NDArray[np.float64] = np.log(clamped / (1.0 - clamped))
    return result


def _reference(levels: list[str], preferred: str | None) -> str:
    return preferred if preferred in levels else levels[0]


def design_groups(
    points: list[ModelPoint],
) -> tuple[dict[str, NDArray[np.float64]], dict[str, list[str]]]:
    """Return the columns of each term group and the names of those columns.

    A group whose factor has one level has no columns.
    """
    import numpy as np

    size = np.log10(np.array([p.size_b for p in points], dtype=np.float64))
    centred = size - size.mean()
    regimes = sorted({p.regime for p in points})
    families = sorted({p.family for p in points})
    regime_reference = _reference(regimes, "base")
    family_reference = _reference(families, None)
    regime_levels = [level for level in regimes if level != regime_reference]
    family_levels = [level for level in families if level != family_reference]

    def dummies(values: list[str], levels: list[str]) -> NDArray[np.float64]:
        matrix = np.zeros((len(values), len(levels)))
        for column, level in enumerate(levels):
            matrix[:, column] = [value == level for value in values]
        return matrix

    regime_columns = dummies([p.regime for p in points], regime_levels)
    columns = {
        "size": centred[:, None],
        "regime": regime_columns,
        "size x regime": centred[:, None] * regime_columns,
        "family": dummies([p.family for p in points], family_levels),
    }
    names = {
        "size": ["log10 size (centred)"],
        "regime": [f"regime[{level}]" for level in regime_levels],
        "size x regime": [f"log10 size x regime[{level}]" for level in regime_levels],
        "family": [f"family[{level}]" for level in family_levels],
    }
    return columns, names


def r_squared(y: NDArray[np.float64], predictors: NDArray[np.float64]) -> float:
    """Return the R^2 of the least-squares fit of ``y`` on an intercept and ``predictors``.

    Rank-deficient predictors are fine: the fitted values are the projection
    of ``y`` on their span either way. Returns NaN when ``y`` is constant.
    """
    import numpy as np

    total = float(np.sum((y - y.mean()) ** 2))
    if total <= 0.0:
        return math.nan
    design = np.column_stack([np.ones(y.size), predictors])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return 1.0 - float(np.sum(residual**2)) / total


def lmg(y: NDArray[np.float64], groups: dict[str, NDArray[np.float64]]) -> dict[str, float]:
    """Return each group's LMG value: its R^2 increment averaged over all entry orders.

    The R^2 of every subset of groups is computed once and reused by the
    orders. A group without columns adds nothing.
    """
    import numpy as np

    names = list(groups)
    cache: dict[frozenset[str], float] = {frozenset(): 0.0}

    def subset_r2(subset: frozenset[str]) -> float:
        if subset not in cache:
            parts = [groups[name] for name in names if name in subset and groups[name].size]
            if parts:
                cache[subset] = r_squared(y, np.column_stack(parts))
            else:
                cache[subset] = 0.0
        return cache[subset]

    totals = dict.fromkeys(names, 0.0)
    orders = list(itertools.permutations(names))
    for order in orders:
        entered: frozenset[str] = frozenset()
        for name in order:
            after = entered | {name}
            totals[name] += subset_r2(after) - subset_r2(entered)
            entered = after
    return {name: total / len(orders) for name, total in totals.items()}


def _coefficients(
    y: NDArray[np.float64], groups: dict[str, NDArray[np.float64]], names: dict[str, list[str]]
) -> dict[str, Any]:
    """Fit the full model; return the coefficients, with standard errors when identified."""
    import numpy as np
    from scipy import stats  # type: ignore[import-untyped]

    parts = [groups[name] for name in GROUPS if groups[name].size]
    design = np.column_stack([np.ones(y.size), *parts])
    labels = ["intercept"] + [label for name in GROUPS for label in names[name]]
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    rank = int(np.linalg.matrix_rank(design))
    df = y.size - design.shape[1]
    identified = rank == design.shape[1] and df > 0
    rows = []
    if identified:
        residual = y - design @ coefficients
        sigma2 = float(residual @ residual) / df
        covariance = sigma2 * np.linalg.inv(design.T @ design)
        errors = np.sqrt(np.diag(covariance))
    for index, label in enumerate(labels):
        row: dict[str, Any] = {"term": label, "estimate": float(coefficients[index])}
        if identified:
            se = float(errors[index])
            t = row["estimate"] / se if se > 0 else math.nan
            row.update(
                se=finite_or_none(se),
                t=finite_or_none(t),
                p=finite_or_none(float(2 * stats.t.sf(abs(t), df))) if se > 0 else None,
            )
        rows.append(row)
    return {
        "terms": rows,
        "parameters": int(design.shape[1]),
        "rank": rank,
        "residual_df": int(df),
        "identified": identified,
    }


def regression(
    points: list[ModelPoint],
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    clamp: float = CLAMP,
) -> dict[str, Any] | None:
    """Regress ``logit(w)`` on the term groups and split R^2 among them (LMG).

    Uses the points that have a worst-case flip rate; returns ``None`` with
    fewer than three. The bootstrap draws models with replacement and refits
    everything, dummies and centring included, on each draw; a draw whose
    ``logit(w)`` is constant is skipped.
    """
    import numpy as np

    rated = [p for p in points if p.worst is not None]
    if len(rated) < 3:
        return None
    y = logit(np.array([p.worst for p in rated], dtype=np.float64), clamp)
    groups, names = design_groups(rated)
    full = r_squared(y, np.column_stack([groups[name] for name in GROUPS]))
    values = lmg(y, groups)
    fit = _coefficients(y, groups, names)

    rng = np.random.default_rng(seed)
    drawn_values: dict[str, list[float]] = {name: [] for name in GROUPS}
    drawn_shares: dict[str, list[float]] = {name: [] for name in GROUPS}
    used = 0
    for _ in range(resamples):
        sample = [rated[i] for i in rng.integers(0, len(rated), len(rated)).tolist()]
        sample_y = logit(np.array([p.worst for p in sample], dtype=np.float64), clamp)
        if float(np.ptp(sample_y)) == 0.0:
            continue
        sample_groups, _ = design_groups(sample)
        sample_values = lmg(sample_y, sample_groups)
        sample_full = sum(sample_values.values())
        used += 1
        for name in GROUPS:
            drawn_values[name].append(sample_values[name])
            drawn_shares[name].append(
                sample_values[name] / sample_full if sample_full > 0 else math.nan
            )

    shares = []
    for name in GROUPS:
        value_interval = percentile_interval(np.array(drawn_values[name]), confidence)
        share_interval = percentile_interval(np.array(drawn_shares[name]), confidence)
        shares.append(
            {
                "group": name,
                "columns": names[name],
                "lmg": values[name],
                "lmg_interval": list(value_interval) if value_interval else None,
                "share": values[name] / full if full > 0 else None,
                "share_interval": list(share_interval) if share_interval else None,
            }
        )
    return {
        "models": [p.name for p in rated],
        "n": len(rated),
        "clamp": clamp,
        "outcome": "logit of the worst-case flip rate",
        "r_squared": finite_or_none(full),
        "saturated": len(rated) <= fit["rank"],
        "fit": fit,
        "lmg": shares,
        "bootstrap": {"resamples": resamples, "used": used, "seed": seed},
        "confidence": confidence,
    }


def _sign_flip_p(differences: NDArray[np.float64], resamples: int, seed: int) -> float | None:
    """Return the two-sided p-value of the mean difference under random sign flips.

    Under the null hypothesis each difference is as likely positive as
    negative. Every sign pattern is enumerated when there are at most
    :data:`MAX_EXACT_PERMUTATIONS`; above, ``resamples`` patterns are drawn with
    ``seed`` and the p-value is ``(hits + 1) / (resamples + 1)``.
    """
    import numpy as np

    n = differences.size
    if n == 0:
        return None
    observed = abs(float(differences.mean()))
    # A small tolerance counts patterns whose mean equals the observed one up to rounding.
    tolerance = 1e-12 * max(1.0, observed)
    if 2**n <= MAX_EXACT_PERMUTATIONS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ differences) / n
        return float(np.mean(means >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(resamples, n))
    hits = int(np.sum(np.abs(signs @ differences) / n >= observed - tolerance))
    return (hits + 1) / (resamples + 1)


def _pair_tests(
    differences: NDArray[np.float64], resamples: int, seed: int
) -> dict[str, float | None]:
    from scipy import stats

    lower = int((differences < 0).sum())
    higher = int((differences > 0).sum())
    sign = None
    if lower + higher:
        sign = float(stats.binomtest(lower, lower + higher, 0.5).pvalue)
    wilcoxon = None
    nonzero = differences[differences != 0]
    if nonzero.size:
        # scipy warns when ties force the normal approximation; the p-value stays valid.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wilcoxon = float(stats.wilcoxon(nonzero, zero_method="wilcox").pvalue)
    return {
        "sign_test_p": sign,
        "wilcoxon_p": finite_or_none(wilcoxon) if wilcoxon is not None else None,
        "permutation_p": _sign_flip_p(differences, resamples, seed),
    }


def paired_differences(
    points: list[ModelPoint],
    resamples: int = 2000,
    seed: int = 0,
    split_b: float = SIZE_SPLIT_B,
) -> dict[str, Any]:
    """Compare each declared pair's worst-case flip rates: ``w(tuned) - w(base)``.

    A negative difference means the tuned model (the one naming its ``pair``)
    is more robust. Pairs are grouped by the tuned model's size, up to
    ``split_b`` and above it, and tested as a whole and per group.
    """
    import numpy as np

    by_name = {p.name: p for p in points}
    pairs: list[dict[str, Any]] = []
    skipped = []
    for tuned in points:
        if tuned.pair is None:
            continue
        base = by_name[tuned.pair]
        if tuned.worst is None or base.worst is None:
            skipped.append({"base": base.name, "tuned": tuned.name})
            continue
        pairs.append(
            {
                "base": base.name,
                "tuned": tuned.name,
                "regime": tuned.regime,
                "size_b": tuned.size_b,
                "worst_base": base.worst,
                "worst_tuned": tuned.worst,
                "difference": tuned.worst - base.worst,
            }
        )
    groups = []
    selections = [
        ("all", pairs),
        (f"<= {split_b:g}B", [p for p in pairs if p["size_b"] <= split_b]),
        (f"> {split_b:g}B", [p for p in pairs if p["size_b"] > split_b]),
    ]
    for label, members in selections:
        differences = np.array([p["difference"] for p in members], dtype=np.float64)
        entry: dict[str, Any] = {
            "group": label,
            "pairs": len(members),
            "tuned_more_robust": int((differences < 0).sum()),
            "tuned_less_robust": int((differences > 0).sum()),
            "ties": int((differences == 0).sum()),
            "mean_difference": float(differences.mean()) if members else None,
            "median_difference": float(np.median(differences)) if members else None,
        }
        if members:
            entry.update(_pair_tests(differences, resamples, seed))
        groups.append(entry)
    return {"split_b": split_b, "pairs": pairs, "skipped": skipped, "groups": groups}


def pair_channels(
    points: list[ModelPoint],
    out_dir: Path,
    resamples: int,
    seed: int,
    confidence: float,
) -> list[dict[str, Any]]:
    """Run the channel decomposition (base as A, tuned model as B) of every declared pair.

    Each comparison's report goes to ``out_dir/pairs/<base>--<tuned>/``. A pair
    that cannot be compared (a missing run, different question formats) gets
    an ``error`` instead.
    """
    import numpy as np

    from .compare import compare_runs
    from .compare_report import write_compare_report

    by_name = {p.name: p for p in points}
    rows = []
    for tuned in points:
        if tuned.pair is None:
            continue
        base = by_name[tuned.pair]
        row: dict[str, Any] = {"base": base.name, "tuned": tuned.name, "size_b": tuned.size_b}
        try:
            if tuned.worst is None or base.worst is None:
                raise SycoError("a run of the pair is incomplete")
            comparison = compare_runs(
                read_run(base.run_dir),
                read_run(tuned.run_dir),
                resamples=resamples,
                seed=seed,
                confidence=confidence,
            )
        except SycoError as error:
            row["error"] = str(error)
            rows.append(row)
            continue
        folder = out_dir / "pairs" / f"{base.name}--{tuned.name}"
        written = write_compare_report(comparison, folder)
        overall = next(f for f in comparison.result["families"] if f["family"] == "all directional")
        net = np.concatenate([values["raw"]["net"] for values in comparison.per_case.values()])
        net = net[~np.isnan(net)]
        row.update(
            shared_cases=comparison.result["shared_cases"],
            margin_unit=comparison.result["margin_unit"],
            channels=overall["channels"],
            concordance=overall["concordance"],
            net_favours_tuned_share=float((net > 0).mean()) if net.size else None,
            report=str(written[-2]),
        )
        rows.append(row)
    return rows
