"""The datasets that ship with core."""

from __future__ import annotations

from .base import Dataset
from .countries import CountriesDataset
from .custom import FileDataset

BUILTIN_DATASETS: list[type[Dataset]] = [
    CountriesDataset,
    FileDataset,
]
