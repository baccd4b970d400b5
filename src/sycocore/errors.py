"""Errors raised by syco and its plugins.

Every error meant for the user derives from :class:`SycoError`. The CLI prints
such an error as one line, without a traceback, and exits with status 1. Any
other exception is a bug and keeps its traceback.

    SycoError
    ├── ConfigError            an invalid option value or combination
    ├── UnknownNameError       a backend, manipulation, metric or dataset not registered
    ├── PluginError            a plugin that registers something invalid or fails
    │   └── MissingDependencyError   an optional library is not installed
    ├── DatasetError           a malformed or unreadable dataset
    ├── BackendError           a model that cannot be loaded or scored
    │   ├── CapabilityError    a readout the backend does not offer
    │   └── ServerError        an HTTP server that fails or cannot be reached
    ├── RunStoreError          a run directory that cannot be used or resumed
    └── CacheError             a score cache that cannot be opened or read
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BackendError",
    "CacheError",
    "CapabilityError",
    "ConfigError",
    "DatasetError",
    "MissingDependencyError",
    "PluginError",
    "RunStoreError",
    "ServerError",
    "SycoError",
    "UnknownNameError",
]


class SycoError(Exception):
    """Base class of every error that the CLI reports without a traceback."""


class ConfigError(SycoError):
    """An option value or a combination of options is invalid."""


class UnknownNameError(SycoError, LookupError):
    """A name is not registered. The message lists the closest registered names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"unknown {kind} {name!r}"
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        else:
            message += "."
        if known:
            message += f" Registered: {', '.join(known)}."
        else:
            message += f" No {kind} is registered: install a plugin that provides one."
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.known = known
        self.suggestions = close


class PluginError(SycoError):
    """A plugin failed to load, registered something invalid, or raised while working."""


class MissingDependencyError(PluginError, ImportError):
    """An optional dependency is missing. The message gives the install command."""

    def __init__(self, package: str, install: str, needed_for: str) -> None:
        super().__init__(
            f"{needed_for} needs the {package!r} package, which is not installed. "
            f"Install it with: {install}"
        )
        self.package = package
        self.install = install


class DatasetError(SycoError):
    """A dataset file or row is malformed, or a dataset cannot be read."""


class BackendError(SycoError):
    """A model cannot be loaded or scored."""


class CapabilityError(BackendError):
    """A backend was asked for a readout that it does not declare."""


class ServerError(BackendError):
    """An HTTP model server failed, timed out or could not be reached."""


class RunStoreError(SycoError):
    """A run directory cannot be created, read or resumed."""


class CacheError(SycoError):
    """The score cache cannot be opened or contains unreadable entries."""
