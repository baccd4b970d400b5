"""The combined report of several runs: one row per run and the worst case against model size.

A run's manifest may describe its model under ``config["model_meta"]``:
``size_b`` (parameters in billions), ``regime`` (e.g. ``base`` or ``instruct``)
and ``family``; each missing value is shown as unknown. The report is built
from :data:`SECTIONS`, a list of functions that each add blocks to the
document, so further analyses across runs can be appended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycocore.metrics import RunData

from .document import Document, Figure, Heading, Table, WarningBox
from .metric import competence_warning
from .report import FIGURE_DIR, fmt_rate

__all__ = ["SECTIONS", "RunEntry", "model_meta", "write_combined_report"]


@dataclass
class RunEntry:
    """One run of a combined report with its decomposition result."""

    run: RunData
    result: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Model name, made unique with the run id."""
        return f"{self.result['model']} ({self.run.manifest.run_id})"


def model_meta(run: RunData) -> dict[str, Any]:
    """Return ``size_b``, ``regime`` and ``family`` of the manifest's ``model_meta``.

    Each is ``None`` when missing or of the wrong type.
    """
    raw = run.manifest.config.get("model_meta")
    meta = raw if isinstance(raw, dict) else {}
    size = meta.get("size_b")
    return {
        "size_b": float(size) if isinstance(size, int | float) and size > 0 else None,
        "regime": meta.get("regime") if isinstance(meta.get("regime"), str) else None,
        "family": meta.get("family") if isinstance(meta.get("family"), str) else None,
    }


Section = Callable[[Document, list[RunEntry], Path], None]


def _warnings(document: Document, entries: list[RunEntry], out_dir: Path) -> None:
    for entry in entries:
        message = competence_warning(entry.result)
        if message:
            document.add(WarningBox(f"{entry.label}: {message}"))


def _runs_table(document: Document, entries: list[RunEntry], out_dir: Path) -> None:
    rows = []
    for entry in entries:
        result, meta = entry.result, entry.meta
        worst = result["worst_case"]
        tier = result["tier_check"]["passed"]
        rows.append(
            [
                entry.label,
                str(meta["size_b"]) if meta["size_b"] is not None else "unknown",
                meta["regime"] or "unknown",
                str(result["question_format"]),
                str(result["cases"]["with_truth_margin"]),
                fmt_rate(result["cases"]["retained_share"]),
                "yes" if result["competence"]["competent"] else "NO",
                fmt_rate(worst["flip_rate"], worst["interval"]) if worst else "n/a",
                worst["manipulation"] if worst else "n/a",
                {True: "pass", False: "fail", None: "n/a"}[tier],
            ]
        )
    document.add(
        Heading("Runs"),
        Table(
            [
                "run",
                "size (B params)",
                "regime",
                "format",
                "cases",
                "retained",
                "competent",
                "worst-case flip rate [CI]",
                "worst manipulation",
                "tier check",
            ],
            rows,
        ),
    )


def _worst_case_figure(document: Document, entries: list[RunEntry], out_dir: Path) -> None:
    from .figures import plot_worst_case_by_size

    points = []
    for entry in entries:
        worst = entry.result["worst_case"]
        points.append(
            {
                "label": entry.label,
                "size_b": entry.meta["size_b"],
                "regime": entry.meta["regime"],
                "worst": worst["flip_rate"] if worst else None,
                "interval": worst["interval"] if worst else None,
            }
        )
    path = plot_worst_case_by_size(points, out_dir / FIGURE_DIR / "worst_case.png")
    document.add(
        Heading("Worst-case flip rate"),
        Figure(
            path,
            "Largest flip rate over manipulations per run, with its bootstrap interval. "
            "Against model size (log scale) and coloured by regime when the manifests give "
            "them; otherwise per run.",
        ),
    )


SECTIONS: list[Section] = [_warnings, _runs_table, _worst_case_figure]
"""Functions that build the combined report, in order."""


def write_combined_report(entries: list[RunEntry], out_dir: Path) -> list[Path]:
    """Write report.md and report.html comparing ``entries`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = Document(f"Sycophancy decomposition: {len(entries)} runs")
    for section in SECTIONS:
        section(document, entries, out_dir)
    markdown = out_dir / "report.md"
    markdown.write_text(document.to_markdown(out_dir), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(document.to_html(), encoding="utf-8")
    figures = [block.path for block in document.blocks if isinstance(block, Figure)]
    return [*figures, markdown, page]
