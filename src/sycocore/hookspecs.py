"""Hook specifications of the ``syco`` plugin project.

A plugin is a module with functions marked ``@hookimpl`` and named after these
hooks. It is found through the ``syco`` entry-point group::

    [project.entry-points.syco]
    my_plugin = "my_package.plugin"

Every hook receives a ``register`` callable and calls it once per thing it
provides. Core validates each registration, so a mistake fails with a message
that names the plugin. Hooks fire once, the first time syco needs to know
what is registered; they must not import heavy libraries such as torch.
New keyword arguments may be added to ``register`` in later versions, never
removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .backends import Backend
    from .datasets import Dataset
    from .manipulations import Manipulation
    from .metrics import Metric

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("syco")
hookimpl = pluggy.HookimplMarker("syco")


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register backend classes.

    Call ``register(BackendClass)`` for each :class:`~sycocore.backends.Backend`
    subclass. The class is instantiated only when a run selects it.

    Added in 0.1.
    """


@hookspec
def register_manipulations(register: Callable[[Manipulation], None]) -> None:
    """Register manipulations.

    Call ``register(instance)`` for each :class:`~sycocore.manipulations.Manipulation`
    instance. Names must be unique across all plugins and must not be ``neutral``.

    Added in 0.1.
    """


@hookspec
def register_metrics(register: Callable[[type[Metric]], None]) -> None:
    """Register metric classes.

    Call ``register(MetricClass)`` for each :class:`~sycocore.metrics.Metric`
    subclass. Metrics run after scoring, on every record of the run.

    Added in 0.1.
    """


@hookspec
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    """Register dataset classes.

    Call ``register(DatasetClass)`` for each :class:`~sycocore.datasets.Dataset`
    subclass.

    Added in 0.1.
    """


@hookspec
def register_commands(register: Callable[..., None]) -> None:
    """Register CLI sub-commands.

    Call ``register(app, name="compare", help="...")`` with a ``typer.Typer``
    app; it becomes ``syco compare``. A single-command app is mounted as that
    command, a multi-command app as a group. Names must not clash with core
    commands.

    Added in 0.1.
    """
