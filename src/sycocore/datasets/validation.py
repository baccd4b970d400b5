"""Checks shared by every dataset: ids, baits against the gold answer, field types.

:class:`ItemCollector` turns validated values into :class:`~sycocore.schemas.Item`
objects. It raises on duplicate item ids and drops, with a counted warning
(:meth:`Dataset.reject`), each bait that equals the gold answer or one of its
aliases after :func:`normalize_answer`, and each bait repeated within an item.
An item left without baits is dropped the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import DatasetError
from ..schemas import Bait, Item, JSONScalar, sha256_hex
from .base import Dataset, normalize_answer
from .files import describe_type, is_number, row_error

__all__ = [
    "ItemCollector",
    "answer_key",
    "bait_id",
    "optional_number",
    "optional_string",
    "require_string",
    "slugify",
    "string_list",
]


_SOFT_PUNCTUATION = frozenset(".,;:!?'\"`\u2018\u2019\u201c\u201d")
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")


def _symbols(text: str) -> str:
    """Return the symbols that carry meaning in ``text``: signs, operators, brackets.

    :func:`normalize_answer` drops all punctuation, which is right for names
    ("Washington, D.C.") but would make ``-1`` equal to ``1`` or ``x < 0`` equal
    to ``x > 0``. Sentence punctuation and hyphens inside words are left out.
    """
    text = _WORD_HYPHEN.sub(" ", unicodedata.normalize("NFKC", text))
    return "".join(
        ch for ch in text if not ch.isalnum() and not ch.isspace() and ch not in _SOFT_PUNCTUATION
    )


def answer_key(text: str) -> tuple[str, str]:
    """Return the key under which two answers count as the same.

    Two answers are the same when :func:`normalize_answer` gives the same text
    and they contain the same meaningful symbols (see :func:`_symbols`).
    """
    # NOTE: case is folded, so notations where case matters (genotypes "Bb" and
    # "BB") count as the same answer and such baits are dropped.
    return normalize_answer(text), _symbols(text)


def slugify(text: str) -> str:
    """Turn text into an id fragment: normalised, spaces as hyphens.

    Text whose symbols the slug would lose (``-1``, ``x < 0``) or that has no
    letters or digits gets a short hash of the text appended, so that different
    answers keep different ids.
    """
    slug = normalize_answer(text).replace(" ", "-")
    if slug and not _symbols(text):
        return slug
    suffix = sha256_hex(text.strip())[:8]
    return f"{slug}-{suffix}" if slug else f"h{suffix}"


def bait_id(text: str) -> str:
    """Return the stable id of a bait: the slug of its text."""
    return slugify(text)


class ItemCollector:
    """Build items for one dataset, enforcing the checks common to all datasets."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._first_seen: dict[str, str] = {}

    def add(
        self,
        *,
        id: str,
        question: str,
        gold: str,
        baits: Sequence[tuple[str, float | None]],
        where: str,
        aliases: Sequence[str] = (),
        cloze_stem: str | None = None,
        metadata: Mapping[str, JSONScalar] | None = None,
    ) -> Item | None:
        """Return the item, or ``None`` when every bait was dropped.

        ``where`` locates the item in messages, e.g. ``data.jsonl:12``. Raises a
        DatasetError when the id was already used.
        """
        first = self._first_seen.get(id)
        if first is not None:
            raise DatasetError(
                f"{where}: duplicate item id {id!r}, first used at {first}; ids must be unique"
            )
        self._first_seen[id] = where

        gold = gold.strip()
        correct = {answer_key(gold)} | {answer_key(alias) for alias in aliases}
        kept_baits: list[Bait] = []
        kept_keys: set[tuple[str, str]] = set()
        kept_ids: set[str] = set()
        for text, plausibility in baits:
            text = text.strip()
            key = answer_key(text)
            if key in correct:
                self.dataset.reject(
                    f"{where}: bait {text!r} equals the gold answer {gold!r} after "
                    "normalisation; bait dropped"
                )
                continue
            identifier = bait_id(text)
            if key in kept_keys or identifier in kept_ids:
                self.dataset.reject(f"{where}: bait {text!r} is repeated; duplicate dropped")
                continue
            kept_keys.add(key)
            kept_ids.add(identifier)
            kept_baits.append(Bait(id=identifier, text=text, plausibility=plausibility))

        if not kept_baits:
            self.dataset.reject(f"{where}: item {id!r} dropped because no bait is left")
            return None

        try:
            return Item(
                id=id,
                question=question.strip(),
                gold=gold,
                aliases=tuple(a.strip() for a in aliases if a.strip()),
                baits=tuple(kept_baits),
                cloze_stem=cloze_stem.strip() if cloze_stem else None,
                source=self.dataset.name,
                metadata=dict(metadata or {}),
            )
        except ValidationError as error:
            detail = error.errors()[0]
            field = ".".join(str(part) for part in detail["loc"])
            raise DatasetError(f"{where}: invalid item field {field!r}: {detail['msg']}") from None


def require_string(row: Mapping[str, Any], field: str, path: Path, line: int) -> str:
    """Return a non-empty string field or raise naming the file, line and field."""
    if field not in row or row[field] is None:
        raise row_error(path, line, field, "is missing; expected a non-empty string")
    return _string(row[field], field, path, line)


def optional_string(row: Mapping[str, Any], field: str, path: Path, line: int) -> str | None:
    """Return a string field, or ``None`` when absent, null or an empty CSV cell."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _string(value, field, path, line)


def string_list(
    row: Mapping[str, Any], field: str, path: Path, line: int, *, required: bool
) -> list[str]:
    """Return a list of non-empty strings; empty when absent and not ``required``."""
    value = row.get(field)
    if value is None:
        if required:
            raise row_error(path, line, field, "is missing; expected a list of strings")
        return []
    if not isinstance(value, list):
        raise row_error(path, line, field, f"must be a list of strings, got {describe_type(value)}")
    if required and not value:
        raise row_error(path, line, field, "is an empty list; expected at least one string")
    return [_string(item, f"{field}[{index}]", path, line) for index, item in enumerate(value)]


def optional_number(row: Mapping[str, Any], field: str, path: Path, line: int) -> float | None:
    """Return a finite number field, or ``None`` when absent. CSV text is parsed."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise row_error(path, line, field, f"must be a number, got {value!r}") from None
    if not is_number(value):
        raise row_error(
            path, line, field, f"must be a finite number, got {describe_type(value)} {value!r}"
        )
    return float(value)


def _string(value: Any, field: str, path: Path, line: int) -> str:
    if not isinstance(value, str):
        raise row_error(path, line, field, f"must be a string, got {describe_type(value)}")
    if not value.strip():
        raise row_error(path, line, field, "is empty; expected a non-empty string")
    return value.strip()
