"""Hierarchical means, the cluster bootstrap and the exact tests of the decomposition.

Cases of one question share the question's difficulty, so they are not
independent. Every average is therefore taken hierarchically (over the cases of
a question, then over questions) and every interval comes from a two-stage
bootstrap: draw as many questions as there are, with replacement, then, within
each drawn question, draw as many of its cases as it has, with replacement.

The draws are made once per resample and shared by every statistic computed
from the same :class:`ClusterBootstrap`, so a maximum over manipulations can be
taken inside each resample. NaN marks a value that does not exist for a case
(an incomplete margin); it is skipped at every stage.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ClusterBootstrap",
    "binomial_greater_p",
    "hierarchical_mean",
    "mcnemar_exact_p",
    "percentile_interval",
]

_CHUNK_ELEMENTS = 2_000_000
"""Drawn case indices held in memory at once (16 MB of int64)."""


def hierarchical_mean(values: NDArray[np.float64], groups: NDArray[np.int64]) -> float | None:
    """Return the mean over groups of the mean over each group's non-NaN values.

    Groups without any non-NaN value do not count. Returns ``None`` when no
    value exists.
    """
    import numpy as np

    valid = ~np.isnan(values)
    if not valid.any():
        return None
    group_count = int(groups.max()) + 1 if groups.size else 0
    sums = np.bincount(groups[valid], weights=values[valid], minlength=group_count)
    counts = np.bincount(groups[valid], minlength=group_count)
    present = counts > 0
    return float(np.mean(sums[present] / counts[present]))


class ClusterBootstrap:
    """Seeded two-stage resampling of cases clustered in questions.

    ``groups`` gives the question of each case. Each call to :meth:`draws`
    starts again from ``seed``, so every statistic uses the same resamples.
    """

    def __init__(self, groups: Sequence[str], resamples: int, seed: int) -> None:
        import numpy as np

        self.resamples = resamples
        self.seed = seed
        labels, group_index = np.unique(np.asarray(list(groups), dtype=object), return_inverse=True)
        self.group_index: NDArray[np.int64] = group_index.astype(np.int64)
        self.questions = len(labels)
        # Cases sorted by question, so each question's cases are contiguous.
        self._order = np.argsort(self.group_index, kind="stable")
        self._sizes = np.bincount(self.group_index, minlength=self.questions)
        self._starts = np.concatenate(([0], np.cumsum(self._sizes)[:-1])).astype(np.int64)
        self._widest = int(self._sizes.max()) if self.questions else 0

    def draws(self) -> Iterator[tuple[NDArray[np.int64], NDArray[np.bool_]]]:
        """Yield chunks of resamples as (case index, mask), each of shape (resamples, Q, m).

        ``Q`` is the number of questions and ``m`` the largest number of cases in
        one question. ``mask`` is false for the padding beyond a drawn
        question's own case count.
        """
        import numpy as np

        if self.questions == 0 or self.resamples == 0:
            return
        rng = np.random.default_rng(self.seed)
        width = self._widest
        per_chunk = max(1, _CHUNK_ELEMENTS // (self.questions * width))
        done = 0
        while done < self.resamples:
            size = min(per_chunk, self.resamples - done)
            drawn = rng.integers(0, self.questions, size=(size, self.questions))
            sizes = self._sizes[drawn][..., None]
            position = np.floor(rng.random((size, self.questions, width)) * sizes).astype(np.int64)
            mask = np.arange(width) < sizes
            position = np.where(mask, position, 0)
            index = self._order[self._starts[drawn][..., None] + position]
            yield index, mask
            done += size

    def hierarchical_means(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the hierarchical mean of each row of ``values`` in each resample.

        ``values`` has shape (K, cases); the result has shape (K, resamples),
        NaN where a resample contains no value of that row.
        """
        import numpy as np

        results = []
        for index, mask in self.draws():
            chunk = np.empty((values.shape[0], index.shape[0]))
            for row, row_values in enumerate(values):
                drawn = row_values[index]
                valid = mask & ~np.isnan(drawn)
                sums = np.where(valid, drawn, 0.0).sum(axis=-1)
                counts = valid.sum(axis=-1)
                present = counts > 0
                question_means = np.where(present, sums / np.maximum(counts, 1), 0.0)
                used = present.sum(axis=-1)
                totals = question_means.sum(axis=-1)
                chunk[row] = np.where(used > 0, totals / np.maximum(used, 1), np.nan)
            results.append(chunk)
        if not results:
            return np.full((values.shape[0], 0), np.nan)
        return np.concatenate(results, axis=1)

    def medians(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the median over drawn (case, column) values in each resample.

        ``values`` has shape (cases, K): the K values of a case (e.g. one per
        manipulation of a family) travel together. The result has shape
        (resamples,), NaN where a resample contains no value.
        """
        import numpy as np

        results = []
        for index, mask in self.draws():
            drawn = values[index]
            drawn = np.where(mask[..., None], drawn, np.nan).reshape(index.shape[0], -1)
            out = np.full(index.shape[0], np.nan)
            filled = (~np.isnan(drawn)).any(axis=1)
            if filled.any():
                out[filled] = np.nanmedian(drawn[filled], axis=1)
            results.append(out)
        if not results:
            return np.full(0, np.nan)
        return np.concatenate(results)


def percentile_interval(
    resampled: NDArray[np.float64], confidence: float
) -> tuple[float, float] | None:
    """Return the equal-tailed percentile interval of the finite resampled values."""
    import numpy as np

    finite = resampled[np.isfinite(resampled)]
    if finite.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def binomial_greater_p(successes: int, trials: int, chance: float) -> float:
    """Return the one-sided exact binomial p-value of ``successes`` or more under ``chance``."""
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    if trials == 0:
        return 1.0
    return float(binomtest(successes, trials, chance, alternative="greater").pvalue)


def mcnemar_exact_p(first_only: int, second_only: int) -> float:
    """Return the two-sided exact McNemar p-value of two discordant counts.

    Under the null hypothesis each discordant pair goes either way with
    probability 1/2, so the test is an exact binomial test on the discordant
    pairs. Without discordant pairs the p-value is 1.
    """
    from scipy.stats import binomtest

    discordant = first_only + second_only
    if discordant == 0:
        return 1.0
    return float(binomtest(first_only, discordant, 0.5, alternative="two-sided").pvalue)


def finite_or_none(value: float) -> float | None:
    """Return ``value``, or ``None`` when it is NaN or infinite (JSON has neither)."""
    return value if math.isfinite(value) else None
