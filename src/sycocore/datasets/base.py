"""Base class of datasets."""

from __future__ import annotations

import logging
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from ..options import PluginOptions
from ..schemas import Item

__all__ = ["Dataset", "DatasetOptions", "normalize_answer"]

logger = logging.getLogger(__name__)


class DatasetOptions(PluginOptions):
    """Options every dataset accepts. Datasets extend this model with their own."""


class Dataset(ABC):
    """A source of items.

    Subclasses set the class attributes and implement :meth:`load`. Items must
    come out in a stable order with stable ids: the engine samples from them
    with a seed, and resumed runs must see the same items.
    """

    name: ClassVar[str]
    """Registered name, used by ``--dataset``."""
    description: ClassVar[str] = ""
    """One line for ``syco list datasets``."""
    license: ClassVar[str] = "unknown"
    """Licence of the data, recorded in the manifest."""
    source: ClassVar[str] = ""
    """Where the data comes from, recorded in the manifest."""
    Options: ClassVar[type[DatasetOptions]] = DatasetOptions
    """Options model; the CLI validates user options against it."""

    def __init__(self, options: DatasetOptions) -> None:
        self.options = options
        self.rejected: list[str] = []
        """One message per item dropped by validation."""

    @abstractmethod
    def load(self) -> Iterator[Item]:
        """Yield the items. Raise :class:`~sycocore.errors.DatasetError` for bad data."""

    def count(self) -> int | None:
        """Return the number of items when that is cheap to know, else ``None``."""
        return None

    def describe_source(self) -> str:
        """Return the source for the manifest; datasets read from a path return it."""
        return self.source

    def reject(self, message: str) -> None:
        """Drop an item or bait and count it.

        Each rejection is logged at DEBUG; the engine logs one warning with the count.
        """
        logger.debug("%s: %s", self.name, message)
        self.rejected.append(message)


_SPACE = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[^\w\s]")


def normalize_answer(text: str) -> str:
    """Normalise an answer for comparison: NFKD, case-folded, no accents,
    punctuation or leading article, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _PUNCTUATION.sub(" ", text.casefold())
    text = _SPACE.sub(" ", text).strip()
    for article in ("the ", "a ", "an "):
        if text.startswith(article):
            text = text[len(article) :]
            break
    return text
