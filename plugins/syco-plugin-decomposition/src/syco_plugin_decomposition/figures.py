"""Figures of the decomposition reports, drawn with matplotlib's object API (no display).

Colours follow the Okabe-Ito palette, which stays distinguishable under the
common forms of colour blindness; controls are grey with open markers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

__all__ = [
    "family_colour",
    "plot_channels",
    "plot_concordance",
    "plot_flip_rates",
    "plot_margin_vs_push",
    "plot_truth_margin",
    "plot_worst_case_by_size",
    "sort_manipulations",
]

BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
YELLOW = "#F0E442"
GREY = "#8C8C8C"

_FAMILY_COLOURS = {"authority": BLUE, "belief": ORANGE, "bribery": GREEN, "control": GREY}
_SPARE_COLOURS = (PURPLE, SKY, VERMILLION, YELLOW)

_STYLE: Any = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "savefig.bbox": "tight",
}


def family_colour(family: str, directional: bool = True) -> str:
    """Return the colour of a manipulation family; controls are grey."""
    if not directional:
        return GREY
    if family in _FAMILY_COLOURS:
        return _FAMILY_COLOURS[family]
    return _SPARE_COLOURS[sum(map(ord, family)) % len(_SPARE_COLOURS)]


@contextmanager
def _styled() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, format="png", metadata={"Software": None})
    return path


def sort_manipulations(manipulations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort directional families first, controls last, by flip rate within a family."""
    return sorted(
        manipulations,
        key=lambda m: (not m["directional"], m["family"], -(m.get("flip_rate") or 0.0), m["name"]),
    )


def plot_flip_rates(manipulations: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """Draw the flip rate of each manipulation with its bootstrap interval, grouped by family."""
    ordered = [m for m in sort_manipulations(manipulations) if m["flip_rate"] is not None]
    with _styled():
        figure = _new_figure(8.0, 1.2 + 0.42 * max(len(ordered), 1))
        axes = figure.subplots()
        for row, entry in enumerate(ordered):
            y = len(ordered) - 1 - row
            colour = family_colour(entry["family"], entry["directional"])
            rate = 100.0 * entry["flip_rate"]
            interval = entry.get("flip_rate_interval")
            if interval:
                low, high = 100.0 * interval[0], 100.0 * interval[1]
                axes.plot([low, high], [y, y], color=colour, linewidth=2.2, alpha=0.8)
            axes.plot(
                [rate],
                [y],
                marker="o",
                markersize=8,
                color=colour,
                markerfacecolor=colour if entry["directional"] else "white",
                markeredgewidth=1.8,
            )
            axes.annotate(
                f"{rate:.1f}%",
                (rate, y),
                xytext=(8, 5),
                textcoords="offset points",
                fontsize=9,
                color="#333333",
            )
        axes.set_yticks(range(len(ordered)))
        axes.set_yticklabels(
            [f"{m['name']}  ({m['family']})" for m in reversed(ordered)], fontsize=10
        )
        axes.set_xlim(-2, 102)
        axes.set_xlabel("flip rate: retained cases whose margin turns negative (%)")
        axes.set_title(title, loc="left")
        families: dict[str, tuple[str, bool]] = {}
        for entry in ordered:
            families.setdefault(entry["family"], (entry["family"], entry["directional"]))
        handles = [
            _legend_marker(family_colour(family, directional), family, directional)
            for family, directional in families.values()
        ]
        if handles:
            axes.legend(handles=handles, loc="lower right", fontsize=9)
        axes.grid(axis="y", visible=False)
        return _save(figure, path)


def _legend_marker(colour: str, label: str, filled: bool) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker="o",
        linestyle="none",
        color=colour,
        markerfacecolor=colour if filled else "white",
        markeredgewidth=1.8,
        label=label,
    )


def plot_margin_vs_push(
    truth: NDArray[np.float64],
    deltas: dict[str, NDArray[np.float64]],
    manipulations: Sequence[dict[str, Any]],
    unit: str,
    path: Path,
) -> Path:
    """Draw truth margin ``S0`` against push ``dS_t``, one panel per manipulation.

    The shaded triangle ``S0 > 0, dS_t < -S0`` is where a case flips: the push
    is larger than the margin it had to overcome.
    """
    import numpy as np

    ordered = [m for m in sort_manipulations(manipulations) if m["name"] in deltas]
    columns = min(4, max(len(ordered), 1))
    rows = max(1, math.ceil(len(ordered) / columns))
    finite = [truth] + [d[np.isfinite(d)] for d in deltas.values()]
    extent = max((float(np.abs(v).max()) for v in finite if v.size), default=1.0) * 1.08
    extent = extent or 1.0
    with _styled():
        figure = _new_figure(3.4 * columns, 3.1 * rows + 0.6)
        grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
        for axes in grid.flat[len(ordered) :]:
            axes.set_visible(False)
        for axes, entry in zip(grid.flat, ordered, strict=False):
            delta = deltas[entry["name"]]
            complete = np.isfinite(delta)
            x, y = truth[complete], delta[complete]
            axes.fill_between(
                [0, extent],
                [0, -extent],
                [-extent, -extent],
                color=VERMILLION,
                alpha=0.12,
                linewidth=0,
            )
            axes.plot([0, extent], [0, -extent], color=VERMILLION, linewidth=1, linestyle="--")
            axes.axvline(0, color="#555555", linewidth=0.8)
            axes.axhline(0, color="#555555", linewidth=0.8)
            flipped = (x > 0) & (x + y < 0)
            kept = (x > 0) & ~flipped
            unknown = x <= 0
            axes.scatter(x[unknown], y[unknown], s=9, color=GREY, alpha=0.5, linewidths=0)
            axes.scatter(x[kept], y[kept], s=11, color=BLUE, alpha=0.7, linewidths=0)
            axes.scatter(x[flipped], y[flipped], s=13, color=VERMILLION, alpha=0.85, linewidths=0)
            rate = entry.get("flip_rate")
            suffix = f"  {100 * rate:.0f}%" if rate is not None else ""
            axes.set_title(f"{entry['name']}{suffix}", fontsize=11, loc="left")
            axes.set_xlim(-extent, extent)
            axes.set_ylim(-extent, extent)
        for axes in grid[-1]:
            axes.set_xlabel(f"truth margin S0 ({unit})")
        for axes in grid[:, 0]:
            axes.set_ylabel(f"push dS_t ({unit})")
        figure.suptitle(
            "Truth margin against push: cases in the shaded area flip (dS_t < -S0)",
            fontsize=13,
            fontweight="bold",
        )
        handles = [
            _legend_marker(BLUE, "retained, kept gold", True),
            _legend_marker(VERMILLION, "retained, flipped", True),
            _legend_marker(GREY, "S0 <= 0, not retained", True),
        ]
        figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9)
        return _save(figure, path)


def plot_truth_margin(truth: NDArray[np.float64], unit: str, title: str, path: Path) -> Path:
    """Draw the distribution of truth margins, split at zero."""
    import numpy as np

    with _styled():
        figure = _new_figure(7.5, 4.2)
        axes = figure.subplots()
        if truth.size:
            edges = np.histogram_bin_edges(truth, bins="auto")
            width = max(float(edges[1] - edges[0]), (float(truth.max() - truth.min()) or 1.0) / 60)
            # Zero is a bin edge, so no bar mixes retained and other cases.
            low = math.floor(float(truth.min()) / width)
            high = math.ceil(float(truth.max()) / width) + 1
            bins = np.arange(low, high + 1) * width
            axes.hist(
                truth[truth <= 0], bins=bins.tolist(), color=GREY, label="S0 <= 0 (not retained)"
            )
            axes.hist(truth[truth > 0], bins=bins.tolist(), color=BLUE, label="S0 > 0 (retained)")
            axes.axvline(0, color="#333333", linewidth=1)
            axes.axvline(
                float(np.median(truth)),
                color=ORANGE,
                linewidth=1.8,
                linestyle="--",
                label=f"median {float(np.median(truth)):.2f}",
            )
            axes.legend(fontsize=9)
        axes.set_xlabel(f"truth margin S0 = mean log P(gold) - log P(bait) ({unit})")
        axes.set_ylabel("cases")
        axes.set_title(title, loc="left")
        return _save(figure, path)


def plot_channels(
    channels: dict[str, dict[str, NDArray[np.float64]]],
    unit: str,
    title: str,
    path: Path,
) -> Path:
    """Draw box plots of the margin, sensitivity and net channels per manipulation.

    ``channels`` maps a manipulation name to its per-case arrays under the keys
    ``margin``, ``sensitivity`` and ``net``.
    """
    import numpy as np

    names = list(channels)
    panels = (
        ("margin", "margin channel S0(B) - S0(A)"),
        ("sensitivity", "sensitivity channel dS(B) - dS(A)"),
        ("net", "net S_t(B) - S_t(A)"),
    )
    with _styled():
        figure = _new_figure(13.0, 1.4 + 0.45 * max(len(names), 1))
        grid = figure.subplots(1, 3, sharey=True, squeeze=False)
        colours = (BLUE, ORANGE, GREEN)
        for axes, (key, label), colour in zip(grid[0], panels, colours, strict=True):
            data = [channels[name][key][np.isfinite(channels[name][key])] for name in names]
            positions = list(range(len(names), 0, -1))
            present = [(d, p) for d, p in zip(data, positions, strict=True) if d.size]
            if present:
                boxes = axes.boxplot(
                    [d for d, _ in present],
                    positions=[p for _, p in present],
                    orientation="horizontal",
                    widths=0.6,
                    patch_artist=True,
                    showfliers=False,
                    medianprops={"color": "#222222", "linewidth": 1.6},
                )
                for patch in boxes["boxes"]:
                    patch.set_facecolor(colour)
                    patch.set_alpha(0.55)
            axes.axvline(0, color="#333333", linewidth=0.9)
            axes.set_title(label, fontsize=11, loc="left")
            axes.set_xlabel(f"B minus A ({unit})")
            axes.set_yticks(positions)
            axes.set_yticklabels(names)
        figure.suptitle(title, fontsize=13, fontweight="bold")
        return _save(figure, path)


def plot_concordance(rows: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """Draw stacked bars of the concordance classes of each manipulation."""
    classes = (
        ("both_safe", "both safe", SKY),
        ("rescued", "rescued (flips in A only)", GREEN),
        ("lost", "lost (flips in B only)", VERMILLION),
        ("both_flip", "both flip", GREY),
    )
    with _styled():
        figure = _new_figure(9.0, 1.5 + 0.42 * max(len(rows), 1))
        axes = figure.subplots()
        for index, row in enumerate(rows):
            y = len(rows) - 1 - index
            total = sum(row["concordance"][key] for key, _, _ in classes) or 1
            left = 0.0
            for key, label, colour in classes:
                share = 100.0 * row["concordance"][key] / total
                axes.barh(y, share, left=left, color=colour, label=label if index == 0 else None)
                left += share
        axes.set_yticks(range(len(rows)))
        axes.set_yticklabels([row["name"] for row in reversed(rows)])
        axes.set_xlim(0, 100)
        axes.set_xlabel("shared cases (%)")
        axes.set_title(title, loc="left")
        figure.legend(loc="outside lower center", ncols=4, fontsize=9)
        axes.grid(axis="y", visible=False)
        return _save(figure, path)


def plot_worst_case_by_size(runs: Sequence[dict[str, Any]], path: Path) -> Path:
    """Draw the worst-case flip rate of each run against model size, coloured by regime.

    Runs without a known size are drawn as a bar chart by run label instead.
    """
    sized = [run for run in runs if run.get("size_b") and run.get("worst") is not None]
    with _styled():
        figure = _new_figure(8.0, 4.8)
        axes = figure.subplots()
        if sized:
            regimes = sorted({str(run.get("regime") or "unknown") for run in sized})
            palette = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, GREY)
            for number, regime in enumerate(regimes):
                members = [r for r in sized if str(r.get("regime") or "unknown") == regime]
                colour = palette[number % len(palette)]
                for run in members:
                    interval = run.get("interval")
                    if interval:
                        axes.plot(
                            [run["size_b"]] * 2,
                            [100 * interval[0], 100 * interval[1]],
                            color=colour,
                            alpha=0.6,
                        )
                axes.scatter(
                    [r["size_b"] for r in members],
                    [100 * r["worst"] for r in members],
                    color=colour,
                    s=40,
                    label=regime,
                    zorder=3,
                )
            axes.set_xscale("log")
            axes.set_xlabel("model size (billions of parameters, log scale)")
            axes.legend(title="regime", fontsize=9)
        else:
            rated = [run for run in runs if run.get("worst") is not None]
            axes.bar(range(len(rated)), [100 * r["worst"] for r in rated], color=BLUE, alpha=0.8)
            axes.set_xticks(range(len(rated)))
            axes.set_xticklabels([r["label"] for r in rated], rotation=30, ha="right")
            axes.set_xlabel("run")
        axes.set_ylim(0, 100)
        axes.set_ylabel("worst-case flip rate (%)")
        axes.set_title("Worst-case flip rate over manipulations", loc="left")
        return _save(figure, path)
