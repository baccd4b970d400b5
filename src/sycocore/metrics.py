"""Base class of metrics: what a run's records are turned into.

A metric reads every record of a run and returns a JSON-serialisable result
that goes into ``summary.json`` under its name. It may also write report files
into the run directory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .generation import GenerationSpec
from .options import PluginOptions
from .schemas import Condition, Record, RunManifest

__all__ = ["Metric", "MetricOptions", "RunData"]


class MetricOptions(PluginOptions):
    """Options every metric accepts. Metrics extend this model with their own."""


@dataclass(frozen=True)
class RunData:
    """Everything a metric may read about one run."""

    manifest: RunManifest
    """Configuration and provenance of the run."""
    records: list[Record]
    """Every record, sorted by (case id, condition, order)."""
    run_dir: Path | None = None
    """The run directory, when the run is stored on disk."""

    @property
    def conditions(self) -> list[Condition]:
        """The neutral condition and every manipulation of the run."""
        return self.manifest.conditions


class Metric(ABC):
    """Computes numbers from the records of one run."""

    name: ClassVar[str]
    """Registered name, used by ``--metrics``."""
    description: ClassVar[str] = ""
    """One line for ``syco list metrics``."""
    Options: ClassVar[type[MetricOptions]] = MetricOptions
    """Options model; the CLI validates user options against it."""

    def __init__(self, options: MetricOptions) -> None:
        self.options = options

    @abstractmethod
    def compute(self, run: RunData) -> dict[str, Any]:
        """Return the result for ``run``; it must serialise to JSON."""

    def generation_spec(self) -> GenerationSpec | None:
        """Return how many free-form answers per question this metric needs, or ``None``.

        When a metric returns a spec, the engine samples the answers after scoring
        and stores them in ``generations.jsonl`` in the run directory.
        """
        return None

    def warnings(self, result: dict[str, Any]) -> list[str]:
        """Return warnings that the CLI prints and the summary stores, e.g. a
        model at chance in the question format."""
        return []

    def describe(self, result: dict[str, Any]) -> str:
        """Return a few lines of plain text that ``syco eval`` prints after the run."""
        return ""

    def write_report(self, run: RunData, result: dict[str, Any], out_dir: Path) -> list[Path]:
        """Write report files for ``run`` into ``out_dir`` and return their paths."""
        return []
