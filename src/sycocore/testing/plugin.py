"""A plugin module that registers the scripted backend and the inline dataset.

Tests expose it through a real entry point, e.g. a ``.dist-info`` folder on
``PYTHONPATH`` whose ``entry_points.txt`` names ``sycocore.testing.plugin``,
so that ``syco`` subprocesses can run without a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from . import InlineDataset, ScriptedBackend


@hookimpl
def register_backends(register: Callable[[Any], None]) -> None:
    register(ScriptedBackend)


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    register(InlineDataset)
