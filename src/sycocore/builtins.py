"""Core's own plugin: the built-in datasets, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Callable

from .datasets import Dataset
from .hookspecs import hookimpl


@hookimpl
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    from .datasets.builtin import BUILTIN_DATASETS

    for dataset in BUILTIN_DATASETS:
        register(dataset)
