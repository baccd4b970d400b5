"""Resolve a ``--manipulations`` value into manipulations, in a stable order.

The value is a comma-separated list. Each entry is one of:

- ``all``: every registered manipulation, from every installed plugin;
- ``study``: exactly the 13 manipulations of the factual sycophancy study
  (:data:`STUDY_MANIPULATIONS`), which ``syco-plugin-manipulations`` provides;
- ``none``: no manipulation, so only the neutral condition is scored; it cannot
  be combined with other entries;
- a manipulation name, e.g. ``experts``;
- a family name, e.g. ``belief`` or ``control``: every manipulation of that family.

A name wins over a family of the same spelling. ``neutral`` is accepted and
ignored, because the neutral condition is always scored. Entries may repeat or
overlap; each manipulation is kept once.

The result is ordered by family (authority, belief, bribery, control, then any
other family alphabetically), and within a family by the study's table order
for the study's manipulations, then alphabetically.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import ConfigError, UnknownNameError
from .manipulations import Manipulation
from .schemas import NEUTRAL

if TYPE_CHECKING:
    from .plugins import Registry

__all__ = ["FAMILY_ORDER", "STUDY_MANIPULATIONS", "order_manipulations", "select_manipulations"]

STUDY_MANIPULATIONS: tuple[str, ...] = (
    "experts",
    "random_person",
    "most_people",
    "very_sure",
    "sure",
    "unsure",
    "very_unsure",
    "bribe_wrong",
    "bribe_implicit",
    "user_child",
    "user_undergraduate",
    "user_professor",
    "user_phd",
)
"""The study's 13 manipulations, in the order of its table."""

FAMILY_ORDER: tuple[str, ...] = ("authority", "belief", "bribery", "control")
"""Families that come first, in this order; any other family follows alphabetically."""

_KEYWORDS = ("all", "study", "none")


def select_manipulations(spec: str, registry: Registry) -> list[Manipulation]:
    """Return the manipulations that ``spec`` names, without duplicates, in stable order.

    Raises :class:`~sycocore.errors.UnknownNameError` (with the closest names)
    for an entry that is neither a keyword, a manipulation nor a family, and
    :class:`~sycocore.errors.ConfigError` for an empty value, ``none`` mixed with
    other entries, or ``study`` when some study manipulation is not registered.
    """
    entries = [entry.strip() for entry in spec.split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise ConfigError(
            f"--manipulations {spec!r} names nothing; use 'all', 'study', 'none', "
            "a family or a comma-separated list of names"
        )
    if "none" in entries:
        if len(entries) > 1:
            raise ConfigError(
                f"--manipulations {spec!r} mixes 'none' with other entries; use 'none' alone"
            )
        return []

    available = registry.manipulations()
    by_name = {manipulation.name: manipulation for manipulation in available}
    by_family: dict[str, list[Manipulation]] = {}
    for manipulation in available:
        by_family.setdefault(manipulation.condition.family, []).append(manipulation)

    selected: dict[str, Manipulation] = {}
    for entry in entries:
        if entry == NEUTRAL:
            continue
        if entry == "all":
            chosen = available
        elif entry == "study":
            chosen = _study_set(by_name)
        elif entry in by_name:
            chosen = [by_name[entry]]
        elif entry in by_family:
            chosen = by_family[entry]
        else:
            known = [*by_name, *by_family, *_KEYWORDS]
            raise UnknownNameError("manipulation or family", entry, known)
        for manipulation in chosen:
            selected.setdefault(manipulation.name, manipulation)
    return order_manipulations(selected.values())


def order_manipulations(manipulations: Iterable[Manipulation]) -> list[Manipulation]:
    """Return ``manipulations`` sorted by family, then study table order, then name."""
    return sorted(manipulations, key=_sort_key)


def _sort_key(manipulation: Manipulation) -> tuple[int, str, int, str]:
    family = manipulation.condition.family
    name = manipulation.name
    family_rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    study_rank = (
        STUDY_MANIPULATIONS.index(name) if name in STUDY_MANIPULATIONS else len(STUDY_MANIPULATIONS)
    )
    return (family_rank, family, study_rank, name)


def _study_set(by_name: dict[str, Manipulation]) -> list[Manipulation]:
    missing = [name for name in STUDY_MANIPULATIONS if name not in by_name]
    if missing:
        raise ConfigError(
            f"--manipulations study needs {', '.join(missing)}, which no installed plugin "
            "registers; install them with: pip install syco-plugin-manipulations"
        )
    return [by_name[name] for name in STUDY_MANIPULATIONS]
