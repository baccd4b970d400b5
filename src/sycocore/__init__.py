"""syco core: measure factual sycophancy as truth margin and manipulation sensitivity.

The public API for plugin authors::

    from sycocore import hookimpl, Backend, Manipulation, TemplateManipulation, Metric, Dataset

Names are imported on first access, so ``import sycocore`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "sycocore.hookspecs",
    "hookspec": "sycocore.hookspecs",
    "Backend": "sycocore.backends",
    "BackendOptions": "sycocore.backends",
    "Dataset": "sycocore.datasets",
    "DatasetOptions": "sycocore.datasets",
    "Manipulation": "sycocore.manipulations",
    "ManipulationContext": "sycocore.manipulations",
    "TemplateManipulation": "sycocore.manipulations",
    "template_manipulation": "sycocore.manipulations",
    "Metric": "sycocore.metrics",
    "MetricOptions": "sycocore.metrics",
    "RunData": "sycocore.metrics",
    "PromptParts": "sycocore.prompts",
    "Bait": "sycocore.schemas",
    "Case": "sycocore.schemas",
    "Condition": "sycocore.schemas",
    "Conversation": "sycocore.schemas",
    "Item": "sycocore.schemas",
    "Message": "sycocore.schemas",
    "ModelIdentity": "sycocore.schemas",
    "Position": "sycocore.schemas",
    "Readout": "sycocore.schemas",
    "Record": "sycocore.schemas",
    "Score": "sycocore.schemas",
    "ScoreRequest": "sycocore.schemas",
    "SycoError": "sycocore.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from .backends import Backend, BackendOptions
    from .datasets import Dataset, DatasetOptions
    from .errors import SycoError
    from .hookspecs import hookimpl, hookspec
    from .manipulations import (
        Manipulation,
        ManipulationContext,
        TemplateManipulation,
        template_manipulation,
    )
    from .metrics import Metric, MetricOptions, RunData
    from .prompts import PromptParts
    from .schemas import (
        Bait,
        Case,
        Condition,
        Conversation,
        Item,
        Message,
        ModelIdentity,
        Position,
        Readout,
        Record,
        Score,
        ScoreRequest,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sycocore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
