"""Files and tables that present a comparison of two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .compare import CHANNELS, Comparison
from .document import Document, Figure, Heading, Paragraph, Table
from .report import FIGURE_DIR, fmt_number, fmt_rate

__all__ = ["channel_cell", "write_compare_report"]


def channel_cell(summary: dict[str, Any] | None) -> str:
    """Format a channel's median with its interval."""
    if not summary or summary["median"] is None:
        return "n/a"
    text = f"{summary['median']:+.2f}"
    if summary["interval"]:
        low, high = summary["interval"]
        text += f" [{low:+.2f}, {high:+.2f}]"
    return text


def _channel_table(rows: list[dict[str, Any]], scale: str, unit: str, confidence: float) -> Table:
    header = [
        "manipulation",
        "cases",
        f"margin channel ({unit})",
        f"sensitivity channel ({unit})",
        f"net ({unit})",
        "net favours B",
        "flip rate A",
        "flip rate B",
        "rescued",
        "lost",
        "McNemar p",
    ]
    body = []
    for row in rows:
        channels = row["channels"].get(scale, {})
        body.append(
            [
                row["name"],
                str(row["cases"]),
                *(channel_cell(channels.get(key)) for key in CHANNELS),
                fmt_rate(row["net_favours_b_share"]),
                fmt_rate(row["flip_rate_a"]),
                fmt_rate(row["flip_rate_b"]),
                str(row["concordance"]["rescued"]),
                str(row["concordance"]["lost"]),
                f"{row['concordance']['mcnemar_p']:.3g}",
            ]
        )
    caption = (
        f"Medians over cases, B minus A, with {100 * confidence:.0f}% cluster-bootstrap "
        "intervals (questions, then baits)."
    )
    return Table(header, body, caption)


def write_compare_report(comparison: Comparison, out_dir: Path) -> list[Path]:
    """Write compare.md, compare.html and the channel figures into ``out_dir``."""
    from . import figures

    result = comparison.result
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unit = result["margin_unit"]
    confidence = result["options"]["confidence"]
    run_a, run_b = result["run_a"], result["run_b"]
    figure_dir = out_dir / FIGURE_DIR

    raw = {name: values["raw"] for name, values in comparison.per_case.items()}
    pictures = [
        (
            figures.plot_channels(
                raw, unit, "Channels of B minus A per case (raw)", figure_dir / "channels_raw.png"
            ),
            "Per-case margin channel, sensitivity channel and their sum, the net change of the "
            f"manipulated margin, in {unit}. Boxes span the quartiles; right of zero favours B.",
        )
    ]
    normalised = {
        name: values["normalised"]
        for name, values in comparison.per_case.items()
        if "normalised" in values
    }
    if normalised:
        pictures.append(
            (
                figures.plot_channels(
                    normalised,
                    "units of each run's SD(S0)",
                    "Channels of B minus A per case (scale-normalised)",
                    figure_dir / "channels_normalised.png",
                ),
                "The same channels after dividing each run's margins by its own SD(S0).",
            )
        )
    pictures.append(
        (
            figures.plot_concordance(
                result["manipulations"], "Concordance of flips", figure_dir / "concordance.png"
            ),
            "Share of shared cases in each concordance class; rescued cases flip only in A, "
            "lost cases only in B.",
        )
    )

    document = Document(f"Comparison: {run_b['model']} (B) against {run_a['model']} (A)")
    sd = result["sd_truth_margin"]
    document.add(
        Table(
            ("", "run A", "run B"),
            [
                ("model", run_a["model"], run_b["model"]),
                ("backend", run_a["backend"], run_b["backend"]),
                ("run id", run_a["run_id"], run_b["run_id"]),
                ("cases with a truth margin", str(run_a["cases"]), str(run_b["cases"])),
                (f"SD(S0) on shared cases ({unit})", fmt_number(sd["a"]), fmt_number(sd["b"])),
            ],
        ),
        Paragraph(
            f"{result['shared_cases']} shared cases from {result['shared_questions']} questions "
            f"({result['only_a']} only in A, {result['only_b']} only in B), question format "
            f"{result['question_format']!r}, {result['options']['resamples']} bootstrap "
            f"resamples with seed {result['options']['seed']}."
        ),
        Heading("Per manipulation, raw"),
        _channel_table(result["manipulations"], "raw", unit, confidence),
    )
    if normalised:
        document.add(
            Heading("Per manipulation, scale-normalised"),
            _channel_table(result["manipulations"], "normalised", "SD(S0)", confidence),
        )
    family_rows = []
    for family in result["families"]:
        channels = family["channels"]
        family_rows.append(
            [
                family["family"],
                str(family["pairs"]),
                *(channel_cell(channels["raw"].get(key)) for key in CHANNELS),
                channel_cell(channels.get("normalised", {}).get("sensitivity")),
                str(family["concordance"]["rescued"]),
                str(family["concordance"]["lost"]),
            ]
        )
    document.add(
        Heading("Per family"),
        Table(
            [
                "family",
                "case x manipulation pairs",
                f"margin ({unit})",
                f"sensitivity ({unit})",
                f"net ({unit})",
                "sensitivity (SD(S0))",
                "rescued",
                "lost",
            ],
            family_rows,
            "Medians pooled over the family's manipulations; a case's values stay together "
            "in the bootstrap.",
        ),
    )
    for path, caption in pictures:
        document.add(Figure(path, caption))
    document.add(
        Heading("Definitions"),
        Paragraph(
            "Margin channel S0(B) - S0(A): how much more firmly B prefers the gold answer "
            "without pressure. Sensitivity channel dS_t(B) - dS_t(A): how much less far B is "
            "pushed (positive: B resists more). Net S_t(B) - S_t(A) is their sum. A flip in a "
            "run is S0 > 0 and S_t < 0 in that run; rescued cases flip only in A, lost cases "
            "only in B. McNemar's exact test compares rescued with lost counts."
        ),
    )

    markdown = out_dir / "compare.md"
    markdown.write_text(document.to_markdown(out_dir), encoding="utf-8")
    page = out_dir / "compare.html"
    page.write_text(document.to_html(), encoding="utf-8")
    return [path for path, _ in pictures] + [markdown, page]
