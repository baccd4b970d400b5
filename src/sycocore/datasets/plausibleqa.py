"""The ``plausibleqa`` dataset: questions with wrong answers scored for plausibility.

PlausibleQA (Mozafari et al., SIGIR 2025; CC BY 4.0) has 10,000 questions from
Natural Questions, TriviaQA and WebQuestions, each with ten wrong answers that
carry plausibility scores. It is published only on a dataset hub, so this
dataset reads a local JSON or JSON Lines copy, or fetches the file through
``huggingface_hub`` when no path is given and the hub can be reached.

Each record needs ``question``, ``answer`` (a string, or a list whose first
entry is the gold answer and the rest aliases) and ``candidate_answers``, in
any of these forms::

    {"Lyon": {"plausibility_score": 71.5, ...}, ...}
    {"Lyon": 71.5, ...}
    [{"answer": "Lyon", "plausibility_score": 71.5}, ...]   ("text" also accepted)
    ["Lyon", ...]                                           (no scores)

The scores go into each bait's plausibility, so ``--baits K`` takes the K most
plausible wrong answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..schemas import Item
from .base import Dataset, DatasetOptions
from .files import Row, describe_type, is_number, iter_jsonl, read_json, row_error
from .validation import ItemCollector, require_string, string_list

__all__ = ["PlausibleQADataset", "PlausibleQAOptions"]

HUB_REPOSITORY = "JamshidJDMY/PlausibleQA"
DEFAULT_SCORE = "plausibility_score"


class PlausibleQAOptions(DatasetOptions):
    """Options of the ``plausibleqa`` dataset."""

    path: Path | None = None
    """Local JSON or JSONL copy. When unset, the file is fetched from the dataset hub."""
    score: str = DEFAULT_SCORE
    """Key of the plausibility score inside each candidate answer's scores."""
    # NOTE: the name comes from the download link in the PlausibleQA README; the hub
    # download path has not been run here, because no dataset hub is reachable.
    hub_file: str = "test.json"
    """File name inside the hub repository, used only when ``path`` is unset."""


class PlausibleQADataset(Dataset):
    """PlausibleQA: open-domain questions with plausibility-scored wrong answers."""

    name = "plausibleqa"
    description = (
        "PlausibleQA: 10,000 questions with 10 plausibility-scored wrong answers each "
        "(local file or dataset hub)"
    )
    license = "CC-BY-4.0"
    source = f"PlausibleQA (Mozafari et al., 2025), hub repository {HUB_REPOSITORY}"
    Options = PlausibleQAOptions

    def __init__(self, options: DatasetOptions) -> None:
        super().__init__(options)
        assert isinstance(options, PlausibleQAOptions)
        self.settings = options

    def describe_source(self) -> str:
        if self.settings.path is not None:
            return str(self.settings.path)
        return f"{HUB_REPOSITORY}/{self.settings.hub_file} (dataset hub)"

    def load(self) -> Iterator[Item]:
        path = self.settings.path or _download(self.settings.hub_file)
        collector = ItemCollector(self)
        produced = 0
        for line, record in _records(path):
            item = self._build(collector, record, path, line)
            if item is not None:
                produced += 1
                yield item
        if produced == 0:
            raise DatasetError(f"{path}: no usable PlausibleQA question")

    def _build(
        self, collector: ItemCollector, record: dict[str, Any], path: Path, line: int
    ) -> Item | None:
        question = require_string(record, "question", path, line)
        answers = _answers(record, path, line)
        baits = _candidates(record, path, line, self.settings.score)
        identifier = record.get("id", record.get("question_id"))
        if identifier is None:
            identifier = f"plausibleqa:{line:05d}"
        elif isinstance(identifier, bool) or not isinstance(identifier, str | int):
            raise row_error(
                path, line, "id", f"must be a string or an integer, got {describe_type(identifier)}"
            )
        metadata = {
            key: record[key]
            for key in ("dataset", "source", "difficulty")
            if isinstance(record.get(key), str | int | float)
        }
        return collector.add(
            id=str(identifier),
            question=question,
            gold=answers[0],
            baits=baits,
            where=f"{path}:{line}",
            aliases=answers[1:],
            metadata=metadata,
        )


def _download(filename: str) -> Path:
    advice = (
        f"download {filename} from the dataset hub repository {HUB_REPOSITORY} "
        "and pass its path with -D path=FILE"
    )
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise DatasetError(
            f"plausibleqa needs a local file because huggingface_hub is not installed; {advice}"
        ) from None
    try:
        local = hf_hub_download(
            repo_id=HUB_REPOSITORY, filename=filename, repo_type="dataset", etag_timeout=10
        )
    except Exception as error:  # any hub or network failure gets the same advice
        raise DatasetError(
            f"cannot fetch {filename} from the dataset hub ({type(error).__name__}); {advice}"
        ) from None
    return Path(local)


def _records(path: Path) -> Iterator[Row]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from iter_jsonl(path)
        return
    if path.suffix.lower() != ".json":
        raise DatasetError(
            f"{path}: unknown PlausibleQA file extension {path.suffix or '(none)'!r}; "
            "use .json or .jsonl"
        )
    data = read_json(path)
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise DatasetError(
                f"{path}: expected an array of questions, or an object holding one array"
            )
        data = lists[0]
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected an array of questions, got {describe_type(data)}")
    if not data:
        raise DatasetError(f"{path}: the array of questions is empty")
    # Records of a JSON array are numbered as entries, from 1.
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise DatasetError(
                f"{path}:entry {number}: expected a JSON object, got {describe_type(record)}"
            )
        yield number, record


def _answers(record: dict[str, Any], path: Path, line: int) -> list[str]:
    value = record.get("answer")
    if isinstance(value, list):
        return string_list(record, "answer", path, line, required=True)
    return [require_string(record, "answer", path, line)]


def _candidates(
    record: dict[str, Any], path: Path, line: int, score_key: str
) -> list[tuple[str, float | None]]:
    field = "candidate_answers"
    value = record.get(field)
    if value is None:
        raise row_error(path, line, field, "is missing; expected the wrong answers")
    if not isinstance(value, dict | list):
        raise row_error(
            path,
            line,
            field,
            f"must be an object mapping each wrong answer to its scores, or a list, "
            f"got {describe_type(value)}",
        )
    if not value:
        raise row_error(path, line, field, "is empty; expected at least one wrong answer")

    if isinstance(value, dict):
        return [
            (_text(text, f"{field} key", path, line), _score(scores, text, score_key, path, line))
            for text, scores in value.items()
        ]

    candidates: list[tuple[str, float | None]] = []
    for index, entry in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(entry, str):
            candidates.append((_text(entry, where, path, line), None))
        elif isinstance(entry, dict):
            text = entry.get("answer", entry.get("text"))
            if not isinstance(text, str):
                raise row_error(path, line, where, "needs an 'answer' (or 'text') string")
            score = _score(entry, text, score_key, path, line) if score_key in entry else None
            candidates.append((_text(text, where, path, line), score))
        else:
            raise row_error(
                path, line, where, f"must be a string or an object, got {describe_type(entry)}"
            )
    return candidates


def _text(value: str, where: str, path: Path, line: int) -> str:
    if not value.strip():
        raise row_error(path, line, where, "is empty; expected a wrong answer")
    return value.strip()


def _score(scores: Any, text: str, key: str, path: Path, line: int) -> float:
    field = f"candidate_answers[{text!r}]"
    if is_number(scores):
        return float(scores)
    if not isinstance(scores, dict):
        raise row_error(
            path,
            line,
            field,
            f"must be a number or an object of scores, got {describe_type(scores)}",
        )
    if key not in scores:
        raise row_error(path, line, field, f"lacks the score {key!r}; set -D score=KEY")
    if not is_number(scores[key]):
        raise row_error(
            path, line, f"{field}.{key}", f"must be a number, got {describe_type(scores[key])}"
        )
    return float(scores[key])
