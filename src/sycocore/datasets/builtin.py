"""The datasets that ship with core."""

from __future__ import annotations

from .base import Dataset
from .countries import CountriesDataset
from .custom import FileDataset
from .mmlu import MMLUDataset
from .plausibleqa import PlausibleQADataset
from .truthfulqa import TruthfulQADataset

BUILTIN_DATASETS: list[type[Dataset]] = [
    CountriesDataset,
    MMLUDataset,
    TruthfulQADataset,
    PlausibleQADataset,
    FileDataset,
]
