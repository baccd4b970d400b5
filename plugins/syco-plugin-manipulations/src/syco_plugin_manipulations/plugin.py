"""Entry point of the plugin: registers the study's 13 manipulations and ``are_you_sure``."""

from __future__ import annotations

from collections.abc import Callable

from sycocore.hookspecs import hookimpl
from sycocore.manipulations import Manipulation

from .pushback import AreYouSure
from .study import STUDY_CLASSES


@hookimpl
def register_manipulations(register: Callable[[Manipulation], None]) -> None:
    for manipulation_class in STUDY_CLASSES:
        register(manipulation_class())
    register(AreYouSure())
