"""Hook implementations: the ``decomposition`` metric, ``syco compare`` and ``syco report``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sycocore.hookspecs import hookimpl
from sycocore.metrics import Metric


@hookimpl
def register_metrics(register: Callable[[type[Metric]], None]) -> None:
    from .metric import DecompositionMetric

    register(DecompositionMetric)


@hookimpl
def register_commands(register: Callable[..., Any]) -> None:
    from .cli import compare_app, report_app

    register(
        compare_app,
        name="compare",
        help="Split the difference between two runs into margin and sensitivity channels.",
    )
    register(
        report_app,
        name="report",
        help="Write the decomposition report of one run, or a combined report of several.",
    )
