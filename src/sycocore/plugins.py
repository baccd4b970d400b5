"""The plugin manager: finds plugins, calls their hooks and keeps what they register.

Plugins are modules listed in the ``syco`` entry-point group, plus core's own
built-in module registered through the same hooks. Loading happens once, on
first use (:func:`get_registry`). A plugin that fails to import, implements an
unknown hook or raises while registering is skipped with one logged warning,
and the rest keep working; ``syco plugins doctor`` shows why.

Environment variables, each a comma-separated list of entry-point or
distribution names:

- ``SYCO_LOAD_PLUGINS``: load only these plugins (empty: none but built-ins);
- ``SYCO_DISABLE_PLUGINS``: never load these.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import pluggy

from . import hookspecs
from .backends import Backend, BackendOptions
from .datasets import Dataset, DatasetOptions
from .errors import PluginError, UnknownNameError
from .manipulations import Manipulation
from .metrics import Metric, MetricOptions
from .schemas import NEUTRAL, Condition

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registration",
    "Registry",
    "get_registry",
    "load_registry",
    "reset_registry",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "syco"
BUILTIN_NAME = "sycocore"
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]*$")

Kind = Literal["backend", "manipulation", "metric", "dataset", "command"]
KINDS: tuple[Kind, ...] = ("backend", "manipulation", "metric", "dataset", "command")
_HOOK_OF_KIND: dict[Kind, str] = {
    "backend": "register_backends",
    "manipulation": "register_manipulations",
    "metric": "register_metrics",
    "dataset": "register_datasets",
    "command": "register_commands",
}


@dataclass
class PluginInfo:
    """What the manager knows about one plugin."""

    name: str
    """Entry-point name, or ``sycocore`` for the built-ins."""
    distribution: str | None
    """Distribution that provides it."""
    version: str | None
    """Version of that distribution."""
    module: str
    """Module the entry point names."""
    status: Literal["loaded", "failed", "disabled"] = "loaded"
    """Whether its hooks were called."""
    error: str | None = None
    """Why it failed or was disabled."""
    hooks: list[str] = field(default_factory=list)
    """Hooks it implements."""
    registered: dict[str, list[str]] = field(default_factory=dict)
    """Names it registered, by kind."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable view."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "registered": self.registered,
        }


@dataclass(frozen=True)
class Registration:
    """One registered thing and the plugin it came from."""

    name: str
    value: Any
    plugin: str


class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginInfo] = {}
        self._entries: dict[Kind, dict[str, Registration]] = {kind: {} for kind in KINDS}

    # Lookup ---------------------------------------------------------------------------

    def names(self, kind: Kind) -> list[str]:
        """Return the registered names of ``kind``, sorted."""
        return sorted(self._entries[kind])

    def entries(self, kind: Kind) -> list[Registration]:
        """Return the registrations of ``kind``, sorted by name."""
        return [self._entries[kind][name] for name in self.names(kind)]

    def get(self, kind: Kind, name: str) -> Registration:
        """Return the registration called ``name`` or raise UnknownNameError with suggestions."""
        try:
            return self._entries[kind][name]
        except KeyError:
            raise UnknownNameError(kind, name, self._entries[kind]) from None

    def backend(self, name: str) -> type[Backend]:
        """Return the backend class called ``name``."""
        value: type[Backend] = self.get("backend", name).value
        return value

    def dataset(self, name: str) -> type[Dataset]:
        """Return the dataset class called ``name``."""
        value: type[Dataset] = self.get("dataset", name).value
        return value

    def metric(self, name: str) -> type[Metric]:
        """Return the metric class called ``name``."""
        value: type[Metric] = self.get("metric", name).value
        return value

    def manipulation(self, name: str) -> Manipulation:
        """Return the manipulation called ``name``."""
        value: Manipulation = self.get("manipulation", name).value
        return value

    def manipulations(self) -> list[Manipulation]:
        """Return every manipulation, sorted by family and then name."""
        values = [entry.value for entry in self.entries("manipulation")]
        return sorted(values, key=lambda m: (m.condition.family, m.condition.name))

    # Registration ---------------------------------------------------------------------

    def add(self, kind: Kind, name: str, value: Any, plugin: str) -> None:
        """Add a validated registration; a duplicate name raises PluginError naming both."""
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind} {name!r} is registered twice: by plugin {existing.plugin!r} and by "
                f"plugin {plugin!r}. Uninstall one, or disable it with "
                f"SYCO_DISABLE_PLUGINS={plugin}"
            )
        self._entries[kind][name] = Registration(name=name, value=value, plugin=plugin)
        self.plugins[plugin].registered.setdefault(kind, []).append(name)


def _validate(kind: Kind, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Check one registration and return its name; raise PluginError when invalid."""
    if kind == "backend":
        _check_class(value, Backend, BackendOptions, "register_backends")
        return str(value.name)
    if kind == "metric":
        _check_class(value, Metric, MetricOptions, "register_metrics")
        return str(value.name)
    if kind == "dataset":
        _check_class(value, Dataset, DatasetOptions, "register_datasets")
        return str(value.name)
    if kind == "manipulation":
        if not isinstance(value, Manipulation):
            raise PluginError(
                f"register_manipulations expects a Manipulation instance, got {value!r}"
            )
        condition = getattr(value, "condition", None)
        if not isinstance(condition, Condition):
            raise PluginError(f"manipulation {value!r} has no valid 'condition'")
        if condition.name == NEUTRAL:
            raise PluginError("a manipulation cannot be called 'neutral'")
        return condition.name
    # command
    name = kwargs.get("name") or (args[0] if args else None)
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise PluginError(f"register_commands needs name='...', got {name!r}")
    if not hasattr(value, "registered_commands"):
        raise PluginError(f"register_commands expects a typer.Typer app, got {value!r}")
    return name


def _check_class(value: Any, base: type, options_base: type, hook: str) -> None:
    if not (isinstance(value, type) and issubclass(value, base)):
        raise PluginError(f"{hook} expects a {base.__name__} subclass, got {value!r}")
    abstract = getattr(value, "__abstractmethods__", None)
    if abstract:
        missing = ", ".join(sorted(abstract))
        raise PluginError(f"{value.__name__} does not implement {missing}")
    name = getattr(value, "name", None)
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise PluginError(
            f"{value.__name__}.name must be a lower-case name such as 'my_name', got {name!r}"
        )
    options = getattr(value, "Options", None)
    if not (isinstance(options, type) and issubclass(options, options_base)):
        raise PluginError(f"{value.__name__}.Options must subclass {options_base.__name__}")


def _env_list(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _selected(info: PluginInfo, allow: set[str] | None, deny: set[str] | None) -> str | None:
    """Return why the plugin is disabled, or None when it may load."""
    names = {info.name, info.distribution or ""}
    if deny and names & deny:
        return "disabled by SYCO_DISABLE_PLUGINS"
    if allow is not None and not names & allow:
        return "not in SYCO_LOAD_PLUGINS"
    return None


def load_registry(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    extra_plugins: Iterable[tuple[str, ModuleType | object]] = (),
    include_builtins: bool = True,
) -> Registry:
    """Build a new registry from entry points, built-ins and ``extra_plugins``.

    ``entry_points`` defaults to the installed ``syco`` group. ``extra_plugins``
    are ``(name, plugin object)`` pairs, e.g. an inline class in a test; they
    obey the same allow and block lists.
    """
    registry = Registry()
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    allow = _env_list("SYCO_LOAD_PLUGINS")
    deny = _env_list("SYCO_DISABLE_PLUGINS")

    candidates: list[tuple[PluginInfo, Callable[[], Any]]] = []
    if include_builtins:
        from . import builtins

        version = _version_of("sycocore")
        info = PluginInfo(BUILTIN_NAME, "sycocore", version, builtins.__name__)
        candidates.append((info, lambda: builtins))

    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in sorted(entry_points, key=lambda ep: ep.name):
        dist = entry_point.dist
        info = PluginInfo(
            name=entry_point.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
            module=entry_point.value,
        )
        candidates.append((info, entry_point.load))

    for name, plugin in extra_plugins:
        module = getattr(plugin, "__name__", type(plugin).__name__)
        candidates.append((PluginInfo(name, None, None, module), _returning(plugin)))

    loaded: list[tuple[PluginInfo, Any]] = []
    for info, load in candidates:
        if info.name in registry.plugins:
            first = registry.plugins[info.name]
            raise PluginError(
                f"two plugins are named {info.name!r}: from {first.distribution or first.module} "
                f"and from {info.distribution or info.module}. Uninstall one of them."
            )
        registry.plugins[info.name] = info
        reason = None if info.name == BUILTIN_NAME else _selected(info, allow, deny)
        if reason:
            info.status, info.error = "disabled", reason
            logger.debug("plugin %s not loaded: %s", info.name, reason)
            continue
        try:
            plugin = load()
            manager.register(plugin, name=info.name)
        except Exception as error:
            _fail(info, f"failed to import: {type(error).__name__}: {error}")
            continue
        unknown = [
            caller.name for caller in manager.get_hookcallers(plugin) or [] if not caller.has_spec()
        ]
        if unknown:
            manager.unregister(plugin)
            known = ", ".join(_HOOK_OF_KIND.values())
            _fail(info, f"implements unknown hooks {unknown}; syco hooks are: {known}")
            continue
        info.hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        loaded.append((info, plugin))
        logger.debug("plugin %s loaded (hooks: %s)", info.name, ", ".join(info.hooks))
    manager.check_pending()

    for info, plugin in loaded:
        _call_hooks(registry, info, plugin)
    return registry


def _returning(plugin: object) -> Callable[[], object]:
    return lambda: plugin


def _call_hooks(registry: Registry, info: PluginInfo, plugin: Any) -> None:
    """Call each hook of one plugin; on failure drop all of its registrations."""
    staged: list[tuple[Kind, str, Any]] = []
    for kind in KINDS:
        function = getattr(plugin, _HOOK_OF_KIND[kind], None)
        if function is None:
            continue

        def register(value: Any, *args: Any, _kind: Kind = kind, **kwargs: Any) -> None:
            name = _validate(_kind, value, args, kwargs)
            payload = (value, kwargs.get("help")) if _kind == "command" else value
            staged.append((_kind, name, payload))

        try:
            function(register=register)
        except PluginError as error:
            _fail(info, f"{_HOOK_OF_KIND[kind]}: {error}")
            return
        except Exception as error:
            _fail(info, f"raised in {_HOOK_OF_KIND[kind]}: {type(error).__name__}: {error}")
            return
    for kind, name, value in staged:
        registry.add(kind, name, value, info.name)


def _fail(info: PluginInfo, reason: str) -> None:
    info.status, info.error = "failed", reason
    logger.warning(
        "plugin %r (%s) skipped: %s. Disable it with SYCO_DISABLE_PLUGINS=%s",
        info.name,
        info.distribution or info.module,
        reason,
        info.name,
    )


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_registry: Registry | None = None
_lock = threading.Lock()


def get_registry() -> Registry:
    """Return the process-wide registry, loading plugins on first call."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = load_registry()
        return _registry


def reset_registry(registry: Registry | None = None) -> None:
    """Replace the process-wide registry (``None``: reload on next use). For tests."""
    global _registry
    with _lock:
        _registry = registry
