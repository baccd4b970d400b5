"""Seeded selection of items and baits.

The same items, seed, ``limit`` and ``baits`` always give the same cases, in
any process and on any platform: selection uses hashes of ids, not the order
of a random stream.
"""

from __future__ import annotations

from collections.abc import Iterable

from .schemas import Bait, Case, Item, sha256_hex

__all__ = ["select_cases", "select_items"]


def _rank(seed: int, *parts: str) -> str:
    return sha256_hex("\x1f".join((str(seed), *parts)))


def select_items(items: Iterable[Item], limit: int | None, seed: int) -> list[Item]:
    """Return ``limit`` items chosen by seed, in dataset order; all items when ``limit`` is None.

    Adding items to a dataset never changes which of the old ones are chosen
    beyond the ones the new items displace.
    """
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    chosen = sorted(items, key=lambda item: _rank(seed, item.id))[:limit]
    keep = {item.id for item in chosen}
    return [item for item in items if item.id in keep]


def _select_baits(item: Item, baits: int | None, seed: int) -> list[Bait]:
    if baits is None or baits >= len(item.baits):
        return list(item.baits)
    if all(bait.plausibility is not None for bait in item.baits):
        # The most plausible baits first; ties broken by id for stability.
        ranked = sorted(item.baits, key=lambda b: (-(b.plausibility or 0.0), b.id))
    else:
        ranked = sorted(item.baits, key=lambda b: _rank(seed, item.id, b.id))
    keep = {bait.id for bait in ranked[:baits]}
    return [bait for bait in item.baits if bait.id in keep]


def select_cases(
    items: Iterable[Item], limit: int | None, baits: int | None, seed: int
) -> list[Case]:
    """Return the cases of ``limit`` seeded items with at most ``baits`` baits each.

    Baits with a plausibility score are taken most plausible first; otherwise
    they are chosen by seed.
    """
    cases = []
    for item in select_items(items, limit, seed):
        for bait in _select_baits(item, baits, seed):
            cases.append(Case(item=item, bait=bait))
    return cases
