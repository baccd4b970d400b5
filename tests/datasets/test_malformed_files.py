"""Each kind of malformed dataset file gives its own error naming file, line and field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sycocore.datasets.base import Dataset
from sycocore.datasets.custom import FileDataset, FileOptions
from sycocore.datasets.plausibleqa import PlausibleQADataset, PlausibleQAOptions
from sycocore.datasets.truthfulqa import TruthfulQADataset, TruthfulQAOptions
from sycocore.errors import DatasetError

GOOD = {"question": "What is the capital of France?", "answer": "Paris", "baits": ["Lyon"]}
TQA_HEADER = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def with_fields(**changes: object) -> dict[str, object]:
    row: dict[str, object] = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    return row


# (case id, dataset, file name, content, pattern the message must match)
CASES: list[tuple[str, str, str, str | bytes, str]] = [
    ("empty file", "file", "items.jsonl", "", r"items\.jsonl: file is empty"),
    (
        "invalid json line",
        "file",
        "items.jsonl",
        jsonl(GOOD) + '{"question": \n',
        r"items\.jsonl:2: invalid JSON",
    ),
    (
        "line not an object",
        "file",
        "items.jsonl",
        '["What is the capital of France?", "Paris"]\n',
        r"items\.jsonl:1: expected a JSON object, got an array",
    ),
    (
        "missing question",
        "file",
        "items.jsonl",
        jsonl(with_fields(question=None)),
        r"items\.jsonl:1: field 'question' is missing",
    ),
    (
        "missing answer",
        "file",
        "items.jsonl",
        jsonl(GOOD, with_fields(answer=None)),
        r"items\.jsonl:2: field 'answer' is missing",
    ),
    (
        "question not a string",
        "file",
        "items.jsonl",
        jsonl(with_fields(question=42)),
        r"items\.jsonl:1: field 'question' must be a string, got a number",
    ),
    (
        "empty answer",
        "file",
        "items.jsonl",
        jsonl(with_fields(answer="  ")),
        r"items\.jsonl:1: field 'answer' is empty",
    ),
    (
        "missing baits",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits=None)),
        r"items\.jsonl:1: field 'baits' is missing",
    ),
    (
        "empty baits",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits=[])),
        r"items\.jsonl:1: field 'baits' is empty",
    ),
    (
        "baits not a list",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits="Lyon")),
        r"items\.jsonl:1: field 'baits' must be a list of strings, got a string",
    ),
    (
        "bait not a string",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits=["Lyon", 7])),
        r"items\.jsonl:1: field 'baits\[1\]' must be a string or an object, got a number",
    ),
    (
        "duplicate id",
        "file",
        "items.jsonl",
        jsonl(with_fields(id="fr"), with_fields(id="fr", answer="Paris, France")),
        r"items\.jsonl:2: duplicate item id 'fr', first used at .*items\.jsonl:1",
    ),
    (
        "duplicate question without ids",
        "file",
        "items.jsonl",
        jsonl(GOOD, GOOD),
        r"items\.jsonl:2: duplicate item id 'q-[0-9a-f]{12}'",
    ),
    (
        "id of wrong type",
        "file",
        "items.jsonl",
        jsonl(with_fields(id=["fr"])),
        r"items\.jsonl:1: field 'id' must be a string or an integer, got an array",
    ),
    (
        "aliases not a list",
        "file",
        "items.jsonl",
        jsonl(with_fields(aliases="Paris, France")),
        r"items\.jsonl:1: field 'aliases' must be a list of strings, got a string",
    ),
    (
        "non-utf8 bytes",
        "file",
        "items.jsonl",
        jsonl(GOOD).encode() + b'{"question": "caf\xe9?", "answer": "a", "baits": ["b"]}\n',
        r"items\.jsonl:2: invalid UTF-8 \(byte 0xe9",
    ),
    (
        "plausibility not a number",
        "file",
        "items.jsonl",
        jsonl(with_fields(plausibility=["high"])),
        r"items\.jsonl:1: field 'plausibility' must be a number, got 'high'",
    ),
    (
        "plausibility count mismatch",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits=["Lyon", "Nice"], plausibility=[0.5])),
        r"items\.jsonl:1: field 'plausibility' has 1 value\(s\) for 2 bait\(s\)",
    ),
    (
        "nan is not json",
        "file",
        "items.jsonl",
        '{"question": "q", "answer": "a", "baits": ["b"], "plausibility": NaN}\n',
        r"items\.jsonl:1: invalid JSON \(NaN is not valid JSON\)",
    ),
    (
        "every bait equals answer",
        "file",
        "items.jsonl",
        jsonl(with_fields(baits=["paris", "PARIS!"])),
        r"items\.jsonl: no usable item; every item was dropped",
    ),
    (
        "json file not an array",
        "file",
        "items.json",
        json.dumps(GOOD),
        r"items\.json: expected a JSON array of objects, got an object",
    ),
    (
        "unknown extension",
        "file",
        "items.txt",
        jsonl(GOOD),
        r"items\.txt: unknown file extension '\.txt'; use one of \.jsonl",
    ),
    (
        "csv missing answer column",
        "file",
        "items.csv",
        "question,baits\nWhat is the capital of France?,Lyon\n",
        r"items\.csv:1: CSV header lacks column\(s\) 'answer'",
    ),
    (
        "csv without bait columns",
        "file",
        "items.csv",
        "question,answer\nWhat is the capital of France?,Paris\n",
        r"items\.csv:1: CSV header lacks a 'baits' column or 'bait_1'\.\.'bait_n' columns",
    ),
    (
        "csv wrong field count",
        "file",
        "items.csv",
        "question,answer,baits\nWhat is the capital of France?,Paris,Lyon\nWhy?,Because\n",
        r"items\.csv:3: expected 3 fields as in the header, got 2",
    ),
    (
        "csv empty baits cell",
        "file",
        "items.csv",
        "question,answer,baits\nWhat is the capital of France?,Paris,\n",
        r"items\.csv:2: field 'baits' is empty",
    ),
    (
        "csv plausibility not a number",
        "file",
        "items.csv",
        "question,answer,bait_1,plausibility_1\nWhat is the capital of France?,Paris,Lyon,hi\n",
        r"items\.csv:2: field 'plausibility' must be a number, got 'hi'",
    ),
    (
        "truthfulqa missing column",
        "truthfulqa",
        "TruthfulQA.csv",
        "Type,Category,Question,Best Answer,Correct Answers\nAdversarial,Misc,Q?,A,A\n",
        r"TruthfulQA\.csv:1: CSV header lacks column\(s\) 'Incorrect Answers'",
    ),
    (
        "truthfulqa empty incorrect answers",
        "truthfulqa",
        "TruthfulQA.csv",
        TQA_HEADER + "Adversarial,Misc,Q?,A,A; B,,src\n",
        r"TruthfulQA\.csv:2: field 'Incorrect Answers' is empty",
    ),
    (
        "truthfulqa example without scores",
        "truthfulqa",
        "task.json",
        json.dumps({"examples": [{"input": "Q?"}]}),
        r"task\.json:example 1: no answer scores; expected one of mc1_targets",
    ),
    (
        "truthfulqa score not binary",
        "truthfulqa",
        "task.json",
        json.dumps({"examples": [{"input": "Q?", "target_scores": {"A": 1, "B": 0.5}}]}),
        r"task\.json:example 1: field 'target_scores' gives 'B' the score 0\.5",
    ),
    (
        "plausibleqa candidates wrong type",
        "plausibleqa",
        "pqa.jsonl",
        jsonl({"question": "Q?", "answer": "A", "candidate_answers": "B"}),
        r"pqa\.jsonl:1: field 'candidate_answers' must be an object mapping each wrong answer",
    ),
    (
        "plausibleqa score missing",
        "plausibleqa",
        "pqa.jsonl",
        jsonl({"question": "Q?", "answer": "A", "candidate_answers": {"B": {"other": 1}}}),
        r"pqa\.jsonl:1: field \"candidate_answers\['B'\]\" lacks the score 'plausibility_score'",
    ),
    (
        "plausibleqa score not a number",
        "plausibleqa",
        "pqa.jsonl",
        jsonl(
            {
                "question": "Q?",
                "answer": "A",
                "candidate_answers": {"B": {"plausibility_score": "high"}},
            }
        ),
        r"pqa\.jsonl:1: field \"candidate_answers\['B'\]\.plausibility_score\" must be a number",
    ),
]


def make_dataset(kind: str, path: Path) -> Dataset:
    if kind == "file":
        return FileDataset(FileOptions(path=path))
    if kind == "truthfulqa":
        return TruthfulQADataset(TruthfulQAOptions(path=path))
    return PlausibleQADataset(PlausibleQAOptions(path=path))


def write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    ("kind", "name", "content", "pattern"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_file_error(
    tmp_path: Path, kind: str, name: str, content: str | bytes, pattern: str
) -> None:
    path = tmp_path / name
    write(path, content)

    with pytest.raises(DatasetError) as error:
        list(make_dataset(kind, path).load())

    message = str(error.value)
    assert str(tmp_path) in message
    assert "\n" not in message
    assert error.match(pattern)


def test_error_messages_all_distinct(tmp_path: Path) -> None:
    messages = set()
    for index, (_, kind, name, content, _) in enumerate(CASES):
        folder = tmp_path / str(index)
        folder.mkdir()
        write(folder / name, content)
        with pytest.raises(DatasetError) as error:
            list(make_dataset(kind, folder / name).load())
        messages.add(str(error.value).replace(str(folder), ""))

    assert len(messages) == len(CASES)


def test_blank_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    write(path, "\n  \n\n")

    with pytest.raises(DatasetError, match=r"items\.jsonl: file is empty"):
        list(FileDataset(FileOptions(path=path)).load())


def test_missing_file_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.jsonl"

    with pytest.raises(DatasetError, match=r"absent\.jsonl: dataset file not found"):
        list(FileDataset(FileOptions(path=path)).load())


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "folder.jsonl"
    path.mkdir()

    with pytest.raises(DatasetError, match=r"folder\.jsonl: is a directory"):
        list(FileDataset(FileOptions(path=path)).load())


def test_unreadable_file_named(tmp_path: Path) -> None:
    path = tmp_path / "locked.jsonl"
    if os.geteuid() == 0:
        # root reads any file whatever its mode, but reading /proc/self/mem at
        # offset 0 fails with EIO, a real read error on a regular file.
        path.symlink_to("/proc/self/mem")
    else:
        write(path, jsonl(GOOD))
        path.chmod(0)

    with pytest.raises(DatasetError, match=r"locked\.jsonl: cannot be read \(.+\)"):
        list(FileDataset(FileOptions(path=path)).load())


def test_bait_equal_to_answer_rejected(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    write(path, jsonl(with_fields(baits=["Lyon", "paris.", "Lyon"]), GOOD | {"id": "b"}))
    dataset = FileDataset(FileOptions(path=path))

    items = list(dataset.load())

    assert [bait.text for bait in items[0].baits] == ["Lyon"]
    assert len(dataset.rejected) == 2
    assert "equals the gold answer 'Paris'" in dataset.rejected[0]
    assert "is repeated" in dataset.rejected[1]


def test_signed_numbers_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    write(path, jsonl({"question": "What is 2 - 3?", "answer": "-1", "baits": ["1", "-5"]}))
    dataset = FileDataset(FileOptions(path=path))

    items = list(dataset.load())

    assert [bait.text for bait in items[0].baits] == ["1", "-5"]
    assert dataset.rejected == []


def test_bom_and_blank_lines_accepted(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + jsonl(GOOD).encode() + b"\n\n" + jsonl(GOOD | {"id": "2"}).encode()
    )

    items = list(FileDataset(FileOptions(path=path)).load())

    assert len(items) == 2
    assert items[1].metadata["line"] == 4
