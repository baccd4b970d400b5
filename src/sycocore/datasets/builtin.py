"""The datasets that ship with core."""

from __future__ import annotations

from .base import Dataset

BUILTIN_DATASETS: list[type[Dataset]] = []
