"""The ``truthfulqa`` dataset: TruthfulQA questions from a local copy of its data.

Two layouts are read; the file extension selects one:

- ``.csv``: ``TruthfulQA.csv`` of the original repository, with the columns
  ``Type``, ``Category``, ``Question``, ``Best Answer``, ``Correct Answers`` and
  ``Incorrect Answers``; answer lists are separated by ``;``.
- ``.json``: a BIG-bench style task, either an object with an ``examples``
  array or a bare array. Each example has the question in ``input`` (or
  ``question``) and answers scored 1 (true) or 0 (false) in ``target_scores``,
  ``mc1_targets`` or ``mc2_targets``.

The gold answer is the best answer (the first true answer in JSON), the other
true answers are its aliases, and the false answers are the baits. Nothing is
downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import DatasetError
from ..schemas import Item
from .base import Dataset, DatasetOptions
from .files import describe_type, is_number, iter_csv, read_json, row_error
from .validation import ItemCollector, require_string

__all__ = ["TruthfulQADataset", "TruthfulQAOptions"]

CSV_COLUMNS = (
    "Type",
    "Category",
    "Question",
    "Best Answer",
    "Correct Answers",
    "Incorrect Answers",
)
TARGET_FIELDS = ("mc1_targets", "target_scores", "mc2_targets")
"""Answer-score fields of a JSON example, in order of preference."""


class TruthfulQAOptions(DatasetOptions):
    """Options of the ``truthfulqa`` dataset."""

    path: Path = Field(description="TruthfulQA.csv or a BIG-bench style task.json")
    """Local copy of the TruthfulQA questions; its extension selects the layout."""


class TruthfulQADataset(Dataset):
    """TruthfulQA: questions that some humans answer falsely, with their false answers."""

    name = "truthfulqa"
    description = "TruthfulQA questions with their common false answers, from a local file"
    license = "Apache-2.0"
    source = "TruthfulQA (Lin, Hilton and Evans, 2022), local copy"
    Options = TruthfulQAOptions

    def __init__(self, options: DatasetOptions) -> None:
        super().__init__(options)
        assert isinstance(options, TruthfulQAOptions)
        self.path = options.path

    def describe_source(self) -> str:
        return str(self.path)

    def load(self) -> Iterator[Item]:
        suffix = self.path.suffix.lower()
        if suffix == ".csv":
            items = self._from_csv()
        elif suffix == ".json":
            items = self._from_json()
        else:
            raise DatasetError(
                f"{self.path}: unknown TruthfulQA file extension {suffix or '(none)'!r}; "
                "pass TruthfulQA.csv or a BIG-bench task.json"
            )
        produced = 0
        for item in items:
            produced += 1
            yield item
        if produced == 0:
            raise DatasetError(f"{self.path}: no usable TruthfulQA question")

    def _from_csv(self) -> Iterator[Item]:
        collector = ItemCollector(self)
        rows = iter_csv(self.path, required=CSV_COLUMNS)
        for number, (line, row) in enumerate(rows, start=1):
            question = require_string(row, "Question", self.path, line)
            best = require_string(row, "Best Answer", self.path, line)
            correct = _split_answers(row["Correct Answers"])
            incorrect = _split_answers(row["Incorrect Answers"])
            if not incorrect:
                raise row_error(
                    self.path,
                    line,
                    "Incorrect Answers",
                    "is empty; expected answers separated by ;",
                )
            item = collector.add(
                id=f"truthfulqa:{number:04d}",
                question=question,
                gold=best,
                baits=[(text, None) for text in incorrect],
                where=f"{self.path}:{line}",
                aliases=[text for text in correct if text != best],
                metadata={"type": row["Type"].strip(), "category": row["Category"].strip()},
            )
            if item is not None:
                yield item

    def _from_json(self) -> Iterator[Item]:
        data = read_json(self.path)
        examples = data.get("examples") if isinstance(data, dict) else data
        if not isinstance(examples, list):
            raise DatasetError(
                f"{self.path}: expected an object with an 'examples' array or an array of "
                f"examples, got {describe_type(data)}"
            )
        if not examples:
            raise DatasetError(f"{self.path}: the examples array is empty")

        collector = ItemCollector(self)
        for number, example in enumerate(examples, start=1):
            where = f"example {number}"
            if not isinstance(example, dict):
                raise DatasetError(
                    f"{self.path}:{where}: expected an object, got {describe_type(example)}"
                )
            question_field = "input" if "input" in example else "question"
            question = _json_string(example, question_field, self.path, where)
            true, false = _scored_answers(example, self.path, where)
            item = collector.add(
                id=f"truthfulqa:{number:04d}",
                question=question,
                gold=true[0],
                baits=[(text, None) for text in false],
                where=f"{self.path}:{where}",
                aliases=true[1:],
            )
            if item is not None:
                yield item


def _split_answers(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _json_string(example: dict[str, Any], field: str, path: Path, where: str) -> str:
    value = example.get(field)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else describe_type(value)
        raise DatasetError(f"{path}:{where}: field {field!r} must be a non-empty string, got {got}")
    return value.strip()


def _scored_answers(example: dict[str, Any], path: Path, where: str) -> tuple[list[str], list[str]]:
    field = next((name for name in TARGET_FIELDS if name in example), None)
    if field is None:
        raise DatasetError(
            f"{path}:{where}: no answer scores; expected one of {', '.join(TARGET_FIELDS)}"
        )
    scores = example[field]
    if not isinstance(scores, dict) or not scores:
        raise DatasetError(
            f"{path}:{where}: field {field!r} must be an object mapping answers to 1 or 0, "
            f"got {describe_type(scores)}"
        )
    true: list[str] = []
    false: list[str] = []
    for answer, score in scores.items():
        if not is_number(score) or score not in (0, 1):
            raise DatasetError(
                f"{path}:{where}: field {field!r} gives {answer!r} the score {score!r}; "
                "expected 1 (true) or 0 (false)"
            )
        if answer.strip():
            (true if score == 1 else false).append(answer.strip())
    if not true:
        raise DatasetError(f"{path}:{where}: field {field!r} has no answer scored 1")
    if not false:
        raise DatasetError(f"{path}:{where}: field {field!r} has no answer scored 0")
    return true, false
