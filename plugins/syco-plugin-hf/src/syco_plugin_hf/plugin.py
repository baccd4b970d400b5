"""Entry point of the ``hf`` backend plugin.

Registering imports only the backend module, which defers torch and
transformers to :meth:`HFBackend.load`.
"""

from __future__ import annotations

from collections.abc import Callable

from sycocore.backends import Backend
from sycocore.hookspecs import hookimpl


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    from .backend import HFBackend

    register(HFBackend)
