"""pytest fixtures for syco plugin tests, loaded automatically when sycocore is installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..plugins import Registry, reset_registry
from . import ScriptedBackend, registry_with


@pytest.fixture
def syco_registry() -> Iterator[Registry]:
    """A fresh registry with the scripted backend and inline dataset, installed as
    the process-wide registry for the duration of the test."""
    registry = registry_with()
    reset_registry(registry)
    ScriptedBackend.calls.clear()
    yield registry
    reset_registry(None)
    ScriptedBackend.score_function = None
    ScriptedBackend.generate_function = None
