"""The ``file`` dataset: your own questions in JSON Lines, JSON or CSV.

Each row has ``question``, ``answer`` and at least one bait, plus optional
``id``, ``aliases``, ``cloze_stem`` and ``plausibility``. The layout is chosen
by extension: ``.jsonl``/``.ndjson`` (one object a line), ``.json`` (an array of
objects) or ``.csv`` (a header line; baits in a ``baits`` column separated by
``|`` or in ``bait_1``..``bait_n`` columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import DatasetError
from ..schemas import Item, sha256_hex
from .base import Dataset, DatasetOptions
from .files import Row, check_file, describe_type, iter_csv, iter_jsonl, read_json, row_error
from .validation import (
    ItemCollector,
    optional_number,
    optional_string,
    require_string,
    string_list,
)

__all__ = ["FileDataset", "FileOptions"]

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
CSV_SUFFIXES = (".csv",)
LIST_SEPARATOR = "|"
"""Separator of several values in one CSV cell (baits, aliases, plausibility)."""

_NUMBERED = re.compile(r"^(bait|plausibility)_(\d+)$")


class FileOptions(DatasetOptions):
    """Options of the ``file`` dataset."""

    path: Path = Field(description="JSONL, JSON or CSV file of items")
    """The file to read; its extension selects the layout."""


class FileDataset(Dataset):
    """Items from a JSONL, JSON or CSV file with question, answer and baits."""

    name = "file"
    description = "Your own items from a JSONL, JSON or CSV file (question, answer, baits)"
    license = "as declared by the file's author"
    source = "local file"
    Options = FileOptions

    def __init__(self, options: DatasetOptions) -> None:
        super().__init__(options)
        assert isinstance(options, FileOptions)
        self.path = options.path

    def describe_source(self) -> str:
        return str(self.path)

    def load(self) -> Iterator[Item]:
        collector = ItemCollector(self)
        produced = 0
        for line, row in self._rows():
            item = _build(collector, row, self.path, line)
            if item is not None:
                produced += 1
                yield item
        if produced == 0:
            raise DatasetError(f"{self.path}: no usable item; every item was dropped")

    def _rows(self) -> Iterator[Row]:
        # A directory or a missing path is named as such, before its extension is judged.
        check_file(self.path)
        suffix = self.path.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            return iter_jsonl(self.path)
        if suffix in JSON_SUFFIXES:
            return _iter_json_array(self.path)
        if suffix in CSV_SUFFIXES:
            return _iter_csv_rows(self.path)
        known = ", ".join((*JSONL_SUFFIXES, *JSON_SUFFIXES, *CSV_SUFFIXES))
        raise DatasetError(
            f"{self.path}: unknown file extension {suffix or '(none)'!r}; use one of {known}"
        )


def _iter_json_array(path: Path) -> Iterator[Row]:
    data = read_json(path)
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON array of objects, got {describe_type(data)}")
    if not data:
        raise DatasetError(f"{path}: the JSON array is empty; it must contain at least one item")
    # A JSON array has no useful line numbers, so rows are numbered from 1 as entries.
    for index, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            raise DatasetError(
                f"{path}:entry {index}: expected a JSON object, got {describe_type(entry)}"
            )
        yield index, entry


def _iter_csv_rows(path: Path) -> Iterator[Row]:
    for line, row in iter_csv(path, required=("question", "answer")):
        numbered = {name for name in row if _NUMBERED.match(name)}
        if "baits" not in row and not any(name.startswith("bait_") for name in numbered):
            raise DatasetError(
                f"{path}:1: CSV header lacks a 'baits' column or 'bait_1'..'bait_n' columns"
            )
        converted: dict[str, Any] = {
            key: value for key, value in row.items() if key not in numbered
        }
        for field in ("baits", "aliases", "plausibility"):
            cell = converted.get(field)
            if cell is None:
                continue
            parts = [part.strip() for part in cell.split(LIST_SEPARATOR)]
            values = [part for part in parts if part]
            # An empty baits cell is reported as empty; other empty cells mean absent.
            converted[field] = values if values or field == "baits" else None
        for prefix in ("bait", "plausibility"):
            columns = sorted(
                (name for name in numbered if name.startswith(prefix + "_")),
                key=lambda name: int(name.rsplit("_", 1)[1]),
            )
            if columns:
                values = [row[name].strip() for name in columns if row[name].strip()]
                key = "baits" if prefix == "bait" else "plausibility"
                converted[key] = (converted.get(key) or []) + values
        yield line, converted


def _build(collector: ItemCollector, row: dict[str, Any], path: Path, line: int) -> Item | None:
    question = require_string(row, "question", path, line)
    answer = require_string(row, "answer", path, line)
    aliases = string_list(row, "aliases", path, line, required=False)
    cloze_stem = optional_string(row, "cloze_stem", path, line)

    identifier = _item_id(row, question, path, line)
    baits = _baits(row, path, line)
    where = f"{path}:{line}"
    return collector.add(
        id=identifier,
        question=question,
        gold=answer,
        baits=baits,
        where=where,
        aliases=aliases,
        cloze_stem=cloze_stem,
        metadata={"line": line},
    )


def _item_id(row: dict[str, Any], question: str, path: Path, line: int) -> str:
    value = row.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        # Derived from the question, so reordering the file keeps every id.
        return "q-" + sha256_hex(question)[:12]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise row_error(
            path, line, "id", f"must be a string or an integer, got {describe_type(value)}"
        )
    return str(value).strip()


def _baits(row: dict[str, Any], path: Path, line: int) -> list[tuple[str, float | None]]:
    raw = row.get("baits")
    if raw is None:
        raise row_error(path, line, "baits", "is missing; expected a list of false answers")
    if not isinstance(raw, list):
        raise row_error(path, line, "baits", f"must be a list of strings, got {describe_type(raw)}")
    if not raw:
        raise row_error(path, line, "baits", "is empty; expected at least one false answer")

    texts: list[str] = []
    scores: list[float | None] = []
    for index, entry in enumerate(raw):
        field = f"baits[{index}]"
        if isinstance(entry, dict):
            texts.append(require_string(entry, "text", path, line))
            scores.append(optional_number(entry, "plausibility", path, line))
            continue
        if not isinstance(entry, str):
            raise row_error(
                path, line, field, f"must be a string or an object, got {describe_type(entry)}"
            )
        if not entry.strip():
            raise row_error(path, line, field, "is empty; expected a false answer")
        texts.append(entry)
        scores.append(None)

    plausibility = row.get("plausibility")
    if plausibility is not None:
        if not isinstance(plausibility, list):
            plausibility = [plausibility]
        if len(plausibility) != len(texts):
            raise row_error(
                path,
                line,
                "plausibility",
                f"has {len(plausibility)} value(s) for {len(texts)} bait(s); "
                "give one number per bait",
            )
        scores = [
            optional_number({"plausibility": value}, "plausibility", path, line)
            for value in plausibility
        ]
    return list(zip(texts, scores, strict=True))
