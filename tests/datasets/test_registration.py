"""Built-in datasets register through the plugin hook and pass the conformance kit."""

from __future__ import annotations

import json
from pathlib import Path

from sycocore.datasets.builtin import BUILTIN_DATASETS
from sycocore.datasets.countries import CountriesDataset
from sycocore.datasets.custom import FileDataset
from sycocore.datasets.mmlu import MMLUDataset
from sycocore.testing import check_dataset, registry_with


def test_builtins_registered_by_name() -> None:
    registry = registry_with()

    for dataset in BUILTIN_DATASETS:
        assert registry.dataset(dataset.name) is dataset


def test_builtins_declare_provenance() -> None:
    for dataset in BUILTIN_DATASETS:
        assert dataset.description, dataset.name
        assert dataset.license != "unknown", dataset.name
        assert dataset.source, dataset.name


def test_countries_conformance() -> None:
    items = check_dataset(CountriesDataset, {"relations": "capital,currency,language"})

    assert all(item.cloze_stem for item in items)


def test_mmlu_conformance() -> None:
    check_dataset(MMLUDataset, {"subjects": "global_facts"})


def test_file_conformance(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    row = {"question": "What is the capital of France?", "answer": "Paris", "baits": ["Lyon"]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")

    check_dataset(FileDataset, {"path": str(path)})
