"""Datasets: where the items of a run come from."""

from .base import Dataset, DatasetOptions, normalize_answer

__all__ = ["Dataset", "DatasetOptions", "normalize_answer"]
