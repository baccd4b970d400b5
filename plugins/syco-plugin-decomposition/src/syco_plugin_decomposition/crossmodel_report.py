"""The report of a sweep directory: report.md, report.html, crossmodel.json and figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .compare_report import channel_cell
from .crossmodel import (
    CLAMP,
    SIZE_SPLIT_B,
    ModelPoint,
    load_points,
    pair_channels,
    paired_differences,
    regression,
)
from .decomposition import DecompositionOptions
from .document import Document, Figure, Heading, Paragraph, Table, WarningBox
from .report import FIGURE_DIR, fmt_rate

__all__ = ["ANALYSIS_FILE", "write_sweep_report"]

ANALYSIS_FILE = "crossmodel.json"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _signed(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:+.1f} pp" if percent else f"{value:+.3f}"


def _interval(values: list[float] | None, percent: bool = True) -> str:
    if not values:
        return ""
    low, high = values
    return f" [{100 * low:.1f}, {100 * high:.1f}]" if percent else f" [{low:.3f}, {high:.3f}]"


def _plot_worst_case(points: list[ModelPoint], path: Path) -> Path:
    """Draw the worst-case flip rate against size, one colour per regime, pairs joined."""
    from .figures import (
        BLUE,
        GREEN,
        GREY,
        ORANGE,
        PURPLE,
        SKY,
        VERMILLION,
        _new_figure,
        _save,
        _styled,
    )

    rated = [p for p in points if p.worst is not None]
    by_name = {p.name: p for p in rated}
    palette = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY)
    regimes = sorted({p.regime for p in rated})
    with _styled():
        figure = _new_figure(8.0, 4.8)
        axes = figure.subplots()
        for tuned in rated:
            base = by_name.get(tuned.pair or "")
            if base is not None and tuned.worst is not None and base.worst is not None:
                axes.plot(
                    [base.size_b, tuned.size_b],
                    [100 * base.worst, 100 * tuned.worst],
                    color=GREY,
                    linestyle="--",
                    linewidth=1,
                    zorder=1,
                )
        for number, regime in enumerate(regimes):
            colour = palette[number % len(palette)]
            members = [p for p in rated if p.regime == regime]
            for point in members:
                if point.interval:
                    axes.plot(
                        [point.size_b] * 2,
                        [100 * point.interval[0], 100 * point.interval[1]],
                        color=colour,
                        alpha=0.5,
                        zorder=2,
                    )
            axes.scatter(
                [p.size_b for p in members],
                [100 * (p.worst or 0.0) for p in members],
                color=colour,
                s=40,
                label=regime,
                zorder=3,
            )
        axes.set_xscale("log")
        axes.set_xlabel("model size (billions of parameters, log scale)")
        axes.set_ylabel("worst-case flip rate (%)")
        axes.set_ylim(0, 100)
        axes.legend(title="regime", fontsize=9)
        axes.set_title("Worst-case flip rate by size and regime", loc="left")
        return _save(figure, path)


def _plot_differences(pairs: dict[str, Any], path: Path) -> Path:
    """Draw each pair's difference in worst-case flip rate against size."""
    from .figures import BLUE, GREY, VERMILLION, _new_figure, _save, _styled

    rows = pairs["pairs"]
    with _styled():
        figure = _new_figure(8.0, 4.2)
        axes = figure.subplots()
        axes.axhline(0.0, color=GREY, linewidth=1)
        axes.axvline(pairs["split_b"], color=GREY, linewidth=1, linestyle=":")
        for row in rows:
            colour = BLUE if row["difference"] < 0 else VERMILLION
            axes.scatter(row["size_b"], 100 * row["difference"], color=colour, s=40, zorder=3)
            axes.annotate(
                row["tuned"],
                (row["size_b"], 100 * row["difference"]),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
        axes.set_xscale("log")
        axes.set_xlabel("model size (billions of parameters, log scale)")
        axes.set_ylabel("tuned minus base (percentage points)")
        axes.set_title("Worst-case flip rate, tuned minus base", loc="left")
        return _save(figure, path)


def _models_section(document: Document, points: list[ModelPoint]) -> None:
    rows = []
    for point in points:
        rows.append(
            [
                point.name,
                point.family,
                f"{point.size_b:g}",
                point.regime,
                point.pair or "",
                point.status,
                fmt_rate(point.worst, point.interval) if point.worst is not None else "n/a",
                point.manipulation or "",
                "" if point.retained is None else str(point.retained),
                {True: "yes", False: "NO", None: ""}[point.competent],
            ]
        )
        if point.note:
            document.add(WarningBox(f"{point.name}: {point.note}; left out of the analysis"))
        elif point.competent is False:
            document.add(
                WarningBox(
                    f"{point.name} is at chance in the sweep's question format, so its flip "
                    "rates measure noise"
                )
            )
    document.add(
        Heading("Models"),
        Table(
            [
                "model",
                "family",
                "size (B)",
                "regime",
                "pair",
                "status",
                "worst-case flip rate [CI]",
                "worst manipulation",
                "retained cases",
                "competent",
            ],
            rows,
        ),
    )


def _regression_section(document: Document, fit: dict[str, Any] | None) -> None:
    document.add(Heading("Size, regime and family"))
    if fit is None:
        document.add(Paragraph("The regression needs at least three models with a flip rate."))
        return
    document.add(
        Paragraph(
            f"OLS of logit(worst-case flip rate) on log10 size (centred), regime, size x regime "
            f"and family, over {fit['n']} models; flip rates are clamped to "
            f"[{fit['clamp']:g}, {1 - fit['clamp']:g}] before the logit. "
            f"R^2 = {fit['r_squared']:.3f}."
            if fit["r_squared"] is not None
            else "The logit of the worst-case flip rate is the same for every model."
        )
    )
    if fit["saturated"]:
        document.add(
            WarningBox(
                f"{fit['n']} models for {fit['fit']['rank']} identified parameters: the model "
                "fits every point exactly, so R^2 and its shares describe the design, not "
                "the data. Add models."
            )
        )
    terms = []
    for row in fit["fit"]["terms"]:
        terms.append(
            [
                row["term"],
                f"{row['estimate']:+.3f}",
                _p(row.get("se")),
                _p(row.get("t")),
                _p(row.get("p")),
            ]
        )
    document.add(
        Table(
            ["term", "estimate (logit)", "SE", "t", "p"],
            terms,
            "Coefficients; SE, t and p need more models than parameters and a full-rank design.",
        )
    )
    shares = []
    for row in fit["lmg"]:
        shares.append(
            [
                row["group"],
                ", ".join(row["columns"]) or "(one level: no columns)",
                f"{row['lmg']:.3f}{_interval(row['lmg_interval'], percent=False)}",
                fmt_rate(row["share"], row["share_interval"]),
            ]
        )
    bootstrap = fit["bootstrap"]
    document.add(
        Table(
            ["term group", "columns", "R^2 part (LMG) [CI]", "share of explained variance [CI]"],
            shares,
            f"LMG: each group's R^2 increment averaged over all orders of entry; the parts "
            f"sum to R^2. {100 * fit['confidence']:.0f}% intervals from {bootstrap['used']} of "
            f"{bootstrap['resamples']} model-level bootstrap resamples (seed {bootstrap['seed']}).",
        )
    )


def _pairs_section(
    document: Document, pairs: dict[str, Any], channels: list[dict[str, Any]], figure_dir: Path
) -> None:
    document.add(Heading("Base and tuned pairs"))
    if not pairs["pairs"]:
        document.add(Paragraph("The sweep declares no pair with two complete runs."))
        return
    document.add(
        Table(
            ["base", "tuned", "size (B)", "base", "tuned", "difference"],
            [
                [
                    row["base"],
                    row["tuned"],
                    f"{row['size_b']:g}",
                    fmt_rate(row["worst_base"]),
                    fmt_rate(row["worst_tuned"]),
                    _signed(row["difference"], percent=True),
                ]
                for row in pairs["pairs"]
            ],
            "Worst-case flip rates; a negative difference means the tuned model is more robust.",
        ),
        Table(
            [
                "pairs",
                "n",
                "tuned more robust",
                "tuned less robust",
                "ties",
                "mean difference",
                "median difference",
                "sign test p",
                "Wilcoxon p",
                "permutation p",
            ],
            [
                [
                    group["group"],
                    str(group["pairs"]),
                    str(group["tuned_more_robust"]),
                    str(group["tuned_less_robust"]),
                    str(group["ties"]),
                    _signed(group["mean_difference"], percent=True),
                    _signed(group["median_difference"], percent=True),
                    _p(group.get("sign_test_p")),
                    _p(group.get("wilcoxon_p")),
                    _p(group.get("permutation_p")),
                ]
                for group in pairs["groups"]
            ],
            "Two-sided tests of tuned minus base: exact sign test, Wilcoxon signed-rank test "
            "(zero differences dropped) and a sign-flip permutation test of the mean.",
        ),
        Figure(
            _plot_differences(pairs, figure_dir / "paired_differences.png"),
            f"Tuned minus base worst-case flip rate per pair; the dotted line splits the pairs "
            f"at {pairs['split_b']:g}B parameters.",
        ),
    )

    rows = []
    for row in channels:
        if "error" in row:
            document.add(WarningBox(f"{row['base']} -> {row['tuned']}: {row['error']}"))
            continue
        raw = row["channels"]["raw"]
        normalised = row["channels"].get("normalised", {})
        rows.append(
            [
                f"{row['base']} -> {row['tuned']}",
                str(row["shared_cases"]),
                channel_cell(raw["margin"]),
                channel_cell(raw["sensitivity"]),
                channel_cell(raw["net"]),
                channel_cell(normalised.get("sensitivity")),
                fmt_rate(row["net_favours_tuned_share"]),
                str(row["concordance"]["rescued"]),
                str(row["concordance"]["lost"]),
                Path(row["report"]).parent.name + "/compare.md",
            ]
        )
    if rows:
        document.add(
            Heading("Channel decomposition per pair", level=3),
            Table(
                [
                    "pair (A -> B)",
                    "shared cases",
                    "margin channel",
                    "sensitivity channel",
                    "net",
                    "sensitivity / SD(S0)",
                    "net favours B",
                    "rescued",
                    "lost",
                    "report (under pairs/)",
                ],
                rows,
                "Medians over every case and directional manipulation, B minus A, with "
                "cluster-bootstrap intervals; see syco compare.",
            ),
        )


def write_sweep_report(
    sweep_dir: Path,
    options: DecompositionOptions,
    out_dir: Path | None = None,
    split_b: float = SIZE_SPLIT_B,
) -> tuple[dict[str, Any], list[Path]]:
    """Analyse a sweep directory and write report.md, report.html and crossmodel.json.

    ``out_dir`` defaults to the sweep directory. The bootstrap and permutation
    seed is ``options.seed``, else the sweep's seed. Returns the analysis (the
    content of crossmodel.json) and the paths written.
    """
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    figure_dir = out_dir / FIGURE_DIR
    state, points = load_points(sweep_dir, options)
    seed_setting = state.settings.get("seed")
    seed = options.seed if options.seed is not None else int(seed_setting or 0)

    fit = regression(points, options.resamples, seed, options.confidence)
    pairs = paired_differences(points, options.resamples, seed, split_b)
    channels = pair_channels(points, out_dir, options.resamples, seed, options.confidence)
    analysis = {
        "sweep": state.name,
        "models": [
            {
                "name": p.name,
                "family": p.family,
                "size_b": p.size_b,
                "regime": p.regime,
                "pair": p.pair,
                "status": p.status,
                "worst_case": p.worst,
                "worst_case_interval": p.interval,
                "worst_manipulation": p.manipulation,
                "retained": p.retained,
                "competent": p.competent,
                "note": p.note,
            }
            for p in points
        ],
        "clamp": CLAMP,
        "regression": fit,
        "paired_differences": pairs,
        "pair_channels": channels,
    }

    settings = state.settings
    document = Document(f"Sweep {state.name}: {len(points)} models")
    document.add(
        Paragraph(
            f"Dataset {settings.get('dataset')!r}, question format "
            f"{settings.get('question_format')!r}, manipulations "
            f"{settings.get('manipulations')!r}, limit {settings.get('limit')}, seed "
            f"{settings.get('seed')}. Sweep file: {state.sweep_file}."
        )
    )
    _models_section(document, points)
    document.add(
        Figure(
            _plot_worst_case(points, figure_dir / "worst_case_by_size.png"),
            "Worst-case flip rate per model with its bootstrap interval, against size (log "
            "scale) and coloured by regime; dashed lines join declared pairs.",
        )
    )
    _regression_section(document, fit)
    _pairs_section(document, pairs, channels, figure_dir)

    analysis_path = out_dir / ANALYSIS_FILE
    analysis_path.write_text(json.dumps(analysis, indent=2) + "\n", encoding="utf-8")
    markdown = out_dir / "report.md"
    markdown.write_text(document.to_markdown(out_dir), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(document.to_html(), encoding="utf-8")
    figures = [block.path for block in document.blocks if isinstance(block, Figure)]
    return analysis, [*figures, analysis_path, markdown, page]
