"""Registers the ``openai`` backend. The openai client is imported only when a run loads it."""

from __future__ import annotations

from collections.abc import Callable

from sycocore.backends import Backend
from sycocore.hookspecs import hookimpl

from .backend import OpenAIBackend


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    register(OpenAIBackend)
