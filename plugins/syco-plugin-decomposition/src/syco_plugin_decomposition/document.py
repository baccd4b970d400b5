"""A small report document rendered both as Markdown and as self-contained HTML.

Reports are built once as a list of blocks and written twice. The HTML page
embeds its figures as base64 ``data:`` URIs and its style inline, so it opens
offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Document", "Figure", "Heading", "Paragraph", "Table", "WarningBox"]


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class WarningBox:
    """A problem shown in a highlighted box."""

    text: str


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass
class Figure:
    """A PNG file in the report directory, shown with a caption."""

    path: Path
    caption: str


Block = Heading | Paragraph | WarningBox | Table | Figure

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.7rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; color: #59636e; padding-bottom: .3rem; }
.warning { background: #fff4e5; border-left: 5px solid #d55e00; padding: .6rem 1rem;
           margin: 1rem 0; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #59636e; font-size: .9rem; }
"""


@dataclass
class Document:
    """A titled list of blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        """Append ``blocks`` in order."""
        self.blocks.extend(blocks)

    def to_markdown(self, base: Path) -> str:
        """Render as Markdown; figure paths are written relative to ``base``."""
        lines = [f"# {self.title}", ""]
        for block in self.blocks:
            if isinstance(block, Heading):
                lines += ["#" * block.level + " " + block.text, ""]
            elif isinstance(block, Paragraph):
                lines += [block.text, ""]
            elif isinstance(block, WarningBox):
                lines += [f"> **Warning:** {block.text}", ""]
            elif isinstance(block, Table):
                if block.caption:
                    lines += [block.caption, ""]
                lines.append("| " + " | ".join(_md_cell(cell) for cell in block.header) + " |")
                lines.append("|" + "---|" * len(block.header))
                for row in block.rows:
                    lines.append("| " + " | ".join(_md_cell(cell) for cell in row) + " |")
                lines.append("")
            else:
                relative = block.path.relative_to(base).as_posix()
                lines += [f"![{block.path.stem}]({relative})", "", f"*{block.caption}*", ""]
        return "\n".join(lines)

    def to_html(self) -> str:
        """Render as one self-contained HTML page with the figures embedded."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for block in self.blocks:
            if isinstance(block, Heading):
                parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
            elif isinstance(block, Paragraph):
                parts.append(f"<p>{html.escape(block.text)}</p>")
            elif isinstance(block, WarningBox):
                parts.append(
                    f'<div class="warning"><strong>Warning:</strong> {html.escape(block.text)}'
                    "</div>"
                )
            elif isinstance(block, Table):
                parts.append(_html_table(block))
            else:
                data = base64.b64encode(block.path.read_bytes()).decode("ascii")
                caption = html.escape(block.caption)
                parts.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                    f"<figcaption>{caption}</figcaption></figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _is_number(text: str) -> bool:
    stripped = text.replace("%", "").replace("+", "").replace("-", "").replace(".", "", 1)
    return stripped.isdigit()


def _html_table(table: Table) -> str:
    rows = ["<table>"]
    if table.caption:
        rows.append(f"<caption>{html.escape(table.caption)}</caption>")
    rows.append(
        "<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header) + "</tr>"
    )
    for row in table.rows:
        cells = []
        for cell in row:
            css = ' class="num"' if _is_number(cell) else ""
            cells.append(f"<td{css}>{html.escape(cell)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)
