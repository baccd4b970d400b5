"""Batched forward passes that read log-probabilities at the final positions.

Sequences are left-padded so that every row ends at the last column. Position
ids follow the attention mask, so a padded row gets the same positions as it
would alone, and only the final positions go through the output layer
(``logits_to_keep``). Log-softmax runs in float32 over the whole vocabulary.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TokenSequence",
    "common_prefix_length",
    "forward_padded",
    "forward_prefix_tree",
    "forward_sharing_prefixes",
    "forward_with_prefix",
    "group_by_prefix",
    "shared_length",
]


@dataclass(frozen=True)
class TokenSequence:
    """Token ids to run and the token ids to read at each of its final positions."""

    ids: tuple[int, ...]
    """Input tokens."""
    targets: tuple[tuple[int, ...], ...]
    """One entry per final position, in order: the tokens whose log-probabilities
    the distribution at that position should return."""

    @property
    def reads(self) -> int:
        """Number of final positions read."""
        return len(self.targets)


LogProbs = list[list[float]]
"""Per final position, the log-probability of each target token."""

MIN_SHARED_PREFIX = 8
"""Fewest shared tokens for which sequences compute their prefix once."""


def common_prefix_length(sequences: Sequence[TokenSequence]) -> int:
    """Return how many leading tokens every sequence shares, leaving each at least
    its read positions, so that every read position lies after the prefix."""
    if not sequences:
        return 0
    limit = min(len(s.ids) - s.reads for s in sequences)
    first = sequences[0].ids
    length = 0
    while length < limit and all(s.ids[length] == first[length] for s in sequences):
        length += 1
    return length


def shared_length(left: Sequence[int], right: Sequence[int]) -> int:
    """Return how many leading tokens ``left`` and ``right`` share."""
    length = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        length += 1
    return length


def group_by_prefix(
    sequences: Sequence[TokenSequence], root: int, min_shared: int
) -> list[tuple[list[int], int]]:
    """Group sequences that share at least ``min_shared`` tokens after the first ``root``.

    Returns ``(indices, shared)`` per group, where ``shared`` is how many leading
    tokens the members share, capped so that each member keeps its read
    positions after it. A group of one shares all its tokens but the read ones.
    Sorting the sequences first makes each group a run of neighbours.
    """
    groups: list[tuple[list[int], int]] = []
    for index in sorted(range(len(sequences)), key=lambda i: sequences[i].ids):
        sequence = sequences[index]
        limit = len(sequence.ids) - sequence.reads
        if groups:
            members, shared = groups[-1]
            overlap = min(shared, limit, shared_length(sequences[members[0]].ids, sequence.ids))
            if overlap - root >= min_shared:
                groups[-1] = ([*members, index], overlap)
                continue
        groups.append(([index], limit))
    return groups


def forward_sharing_prefixes(
    model: Any, sequences: Sequence[TokenSequence], pad_id: int
) -> list[LogProbs]:
    """Run the sequences computing each prefix they share only once.

    Sequences that share a prefix of at least :data:`MIN_SHARED_PREFIX` tokens
    beyond the prefix of the whole batch go through :func:`forward_prefix_tree`;
    when only the whole batch shares one, through :func:`forward_with_prefix`;
    otherwise as one padded batch.
    """
    if len(sequences) > 1:
        root = common_prefix_length(sequences)
        groups = group_by_prefix(sequences, root, MIN_SHARED_PREFIX)
        if root >= 1 and len(groups) < len(sequences):
            return forward_prefix_tree(model, sequences, root, groups, pad_id)
        if root >= MIN_SHARED_PREFIX:
            return forward_with_prefix(model, sequences, root, pad_id)
    return forward_padded(model, sequences, pad_id)


def forward_padded(model: Any, sequences: Sequence[TokenSequence], pad_id: int) -> list[LogProbs]:
    """Run the sequences as one left-padded batch and read their final positions."""
    import torch

    device = model.device
    width = max(len(s.ids) for s in sequences)
    input_ids, mask = _left_pad([s.ids for s in sequences], width, pad_id, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(s.reads for s in sequences)
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            logits_to_keep=keep,
            use_cache=False,
        ).logits
    return _read_targets(logits, sequences)


def forward_with_prefix(
    model: Any, sequences: Sequence[TokenSequence], prefix_length: int, pad_id: int
) -> list[LogProbs]:
    """Run the shared prefix once, then the rest of every sequence as one batch.

    The prefix's key-value cache is copied for each row. The rest of each
    sequence is left-padded, so padding sits between the prefix and the row's
    own tokens. The attention mask hides that padding, and position ids
    continue from the prefix. ``prefix_length`` must not exceed
    :func:`common_prefix_length`.
    """
    import torch

    device = model.device
    prefix = torch.tensor([sequences[0].ids[:prefix_length]], dtype=torch.long, device=device)
    cache_argument = _cache_argument(model)
    with torch.inference_mode():
        output = model(input_ids=prefix, use_cache=True, logits_to_keep=1)
    prefix_cache = getattr(output, cache_argument)

    rests = [s.ids[prefix_length:] for s in sequences]
    width = max(len(r) for r in rests)
    input_ids, rest_mask = _left_pad(rests, width, pad_id, device)
    prefix_mask = torch.ones((len(sequences), prefix_length), dtype=rest_mask.dtype, device=device)
    mask = torch.cat([prefix_mask, rest_mask], dim=1)
    positions = prefix_length + (rest_mask.cumsum(-1) - 1).clamp(min=0)
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(len(sequences))
    keep = max(s.reads for s in sequences)
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            logits_to_keep=keep,
            use_cache=True,
            **{cache_argument: cache},
        ).logits
    return _read_targets(logits, sequences)


def forward_prefix_tree(
    model: Any,
    sequences: Sequence[TokenSequence],
    root: int,
    groups: Sequence[tuple[list[int], int]],
    pad_id: int,
) -> list[LogProbs]:
    """Run a two-level prefix tree: the prefix all sequences share, then each group's own
    prefix, then the rest of every sequence, each level as one batch.

    ``root`` must be at least 1 and not exceed :func:`common_prefix_length`;
    ``groups`` comes from :func:`group_by_prefix`. Each level continues the
    key-value cache of the level before, with the rows of the cache selected
    per group and then per sequence. Padding sits between the levels, hidden by
    the attention mask, and position ids count only real tokens, so every
    sequence sees the positions it would see alone.
    """
    import torch

    device = model.device
    cache_argument = _cache_argument(model)
    prefix = torch.tensor([sequences[0].ids[:root]], dtype=torch.long, device=device)
    with torch.inference_mode():
        output = model(input_ids=prefix, use_cache=True, logits_to_keep=1)
    cache = getattr(output, cache_argument)

    # Sequences that share nothing beyond the root run all their own tokens in
    # the last level; one empty group gives them the root's cache.
    alone = [index for members, _ in groups if len(members) == 1 for index in members]
    groups = [(members, shared) for members, shared in groups if len(members) > 1]
    if alone:
        groups.append((alone, root))

    stems = [sequences[members[0]].ids[root:shared] for members, shared in groups]
    width = max(len(stem) for stem in stems)
    stem_ids, stem_mask = _left_pad(stems, width, pad_id, device)
    group_mask = torch.cat(
        [torch.ones((len(groups), root), dtype=stem_mask.dtype, device=device), stem_mask], dim=1
    )
    cache.batch_repeat_interleave(len(groups))
    if width > 0:
        positions = root + (stem_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            output = model(
                input_ids=stem_ids,
                attention_mask=group_mask,
                position_ids=positions,
                logits_to_keep=1,
                use_cache=True,
                **{cache_argument: cache},
            )
        cache = getattr(output, cache_argument)

    group_of = [0] * len(sequences)
    starts = [0] * len(sequences)
    for number, (members, shared) in enumerate(groups):
        for index in members:
            group_of[index], starts[index] = number, shared
    rows = torch.tensor(group_of, dtype=torch.long, device=device)
    cache.batch_select_indices(rows)

    rests = [s.ids[start:] for s, start in zip(sequences, starts, strict=True)]
    rest_ids, rest_mask = _left_pad(rests, max(len(r) for r in rests), pad_id, device)
    mask = torch.cat([group_mask[rows], rest_mask], dim=1)
    offsets = torch.tensor(starts, dtype=torch.long, device=device).unsqueeze(1)
    positions = offsets + (rest_mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(s.reads for s in sequences)
    with torch.inference_mode():
        logits = model(
            input_ids=rest_ids,
            attention_mask=mask,
            position_ids=positions,
            logits_to_keep=keep,
            use_cache=True,
            **{cache_argument: cache},
        ).logits
    return _read_targets(logits, sequences)


def _cache_argument(model: Any) -> str:
    # transformers 5.25 renamed ``past_key_values`` to ``cache`` in forward() and
    # in its outputs, and warns on the old name; older releases know only the old one.
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _left_pad(
    rows: Sequence[tuple[int, ...]], width: int, pad_id: int, device: Any
) -> tuple[Any, Any]:
    import torch

    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        if row:
            input_ids[index, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[index, width - len(row) :] = 1
    return input_ids.to(device), mask.to(device)


def _read_targets(logits: Any, sequences: Sequence[TokenSequence]) -> list[LogProbs]:
    keep = logits.shape[1]
    logprobs = logits.float().log_softmax(dim=-1)
    results: list[LogProbs] = []
    for row, sequence in enumerate(sequences):
        first = keep - sequence.reads
        values = []
        for offset, targets in enumerate(sequence.targets):
            picked = logprobs[row, first + offset, list(targets)]
            values.append([float(v) for v in picked.cpu().tolist()])
        results.append(values)
    return results
