"""Batched forward passes that read log-probabilities at chosen positions.

Two ways to run a batch of token sequences:

- :func:`forward_padded` left-pads the sequences so that every row ends at the
  last column, with position ids that follow the attention mask, and sends
  only the final positions through the output layer (``logits_to_keep``);
- :func:`forward_token_tree` merges the sequences into one token tree, in
  which a prefix that several sequences share is a single branch, and runs
  the tree as one row. Each token attends to its ancestors only and takes its
  depth as its position, so every sequence gets exactly the context it would
  have alone, while each shared token is computed once and nothing is padded.

Log-softmax runs in float32 over the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = [
    "TREE_ATTENTION",
    "TokenSequence",
    "TokenTree",
    "build_token_tree",
    "forward_padded",
    "forward_token_tree",
    "shared_length",
    "split_by_nodes",
    "weakest_cut",
]

TREE_ATTENTION = frozenset({"sdpa", "eager"})
"""Attention implementations that apply a custom 4D attention mask as given."""


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


def shared_length(left: Sequence[int], right: Sequence[int]) -> int:
    """Return how many leading tokens ``left`` and ``right`` share."""
    length = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        length += 1
    return length


def weakest_cut(start: int, end: int, shared_before: Callable[[int], int]) -> int:
    """Return where to end a group of sorted items ``start`` to ``end`` (exclusive) early.

    The cut falls in the group's second half, before the item that shares the
    fewest tokens with the one before it (``shared_before(cut)``), the latest
    such item on a tie, so that a shared prefix is rarely split. A group of one
    item stays whole.
    """
    if end - start <= 1:
        return end
    candidates = range(start + (end - start + 1) // 2, end + 1)
    return min(candidates, key=lambda cut: (shared_before(cut), -cut))


@dataclass(frozen=True)
class TokenTree:
    """Sequences merged into a tree of tokens, its nodes listed parents first."""

    tokens: list[int]
    """Token of each node."""
    parents: list[int]
    """Index of each node's parent, ``-1`` for a node that starts a sequence."""
    depths: list[int]
    """Position of each node's token in its sequences, counted from 0."""
    reads: list[int]
    """For each sequence in order, the nodes of its read positions, concatenated."""


def build_token_tree(sequences: Sequence[TokenSequence]) -> TokenTree:
    """Merge ``sequences`` into a :class:`TokenTree`.

    Two sequences share a node for every token of their common prefix. The
    sequences may come in any order. Once they are sorted by their ids, each
    one shares the most with the one before it, so the merge compares only
    neighbours.
    """
    for sequence in sequences:
        if not 1 <= sequence.reads <= len(sequence.ids):
            raise ValueError(
                f"a sequence of {len(sequence.ids)} tokens cannot have {sequence.reads} "
                "read positions; it needs at least one token per read position"
            )
    order = sorted(range(len(sequences)), key=lambda i: sequences[i].ids)
    tokens: list[int] = []
    parents: list[int] = []
    depths: list[int] = []
    paths: list[list[int]] = [[] for _ in sequences]
    previous: list[int] = []
    previous_ids: tuple[int, ...] = ()
    for index in order:
        ids = sequences[index].ids
        shared = shared_length(previous_ids, ids)
        path = previous[:shared]
        for depth in range(shared, len(ids)):
            parents.append(path[-1] if path else -1)
            tokens.append(ids[depth])
            depths.append(depth)
            path.append(len(tokens) - 1)
        paths[index] = path
        previous, previous_ids = path, ids
    reads = [
        node
        for sequence, path in zip(sequences, paths, strict=True)
        for node in path[len(path) - sequence.reads :]
    ]
    return TokenTree(tokens=tokens, parents=parents, depths=depths, reads=reads)


def split_by_nodes(sequences: Sequence[TokenSequence], max_nodes: int) -> Iterator[list[int]]:
    """Split ``sequences`` into groups whose token trees have at most ``max_nodes`` nodes.

    Yields lists of indices into ``sequences``. The sequences are visited in
    the order of their ids, so that the prompts of one question, and within it
    those of one option order, are neighbours. A group that would grow past
    ``max_nodes`` is cut, in its second half, before the sequence that shares
    the fewest tokens with its predecessor, so that a shared prefix is rarely
    split. A group that starts with a sequence longer than ``max_nodes`` may
    still grow by a quarter of ``max_nodes``, so that long prompts which
    differ only near their end share their prefix too.
    """
    order = sorted(range(len(sequences)), key=lambda i: sequences[i].ids)
    shared = [0] + [shared_length(sequences[a].ids, sequences[b].ids) for a, b in pairwise(order)]
    start = 0
    while start < len(order):
        end, nodes = start + 1, len(sequences[order[start]].ids)
        limit = max(max_nodes, nodes + max_nodes // 4)
        while end < len(order):
            added = len(sequences[order[end]].ids) - shared[end]
            if nodes + added > limit:
                break
            nodes += added
            end += 1
        if end < len(order):
            end = weakest_cut(start, end, shared.__getitem__)
        yield order[start:end]
        start = end


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


def forward_token_tree(model: Any, sequences: Sequence[TokenSequence]) -> list[LogProbs]:
    """Run the sequences as one :class:`TokenTree` in a single row.

    The attention mask lets each node attend to itself and its ancestors, and
    position ids are the nodes' depths. The model's attention implementation must be
    one of :data:`TREE_ATTENTION`: ``sdpa`` takes the mask as booleans,
    ``eager`` adds it to the attention scores. The mask is dense, so the
    attention cost grows with the square of the node count; split large
    batches with :func:`split_by_nodes`.
    """
    import torch

    device = model.device
    tree = build_token_tree(sequences)
    count = len(tree.tokens)
    allowed = torch.zeros((count, count), dtype=torch.bool)
    for node, parent in enumerate(tree.parents):
        if parent >= 0:
            allowed[node] = allowed[parent]
        allowed[node, node] = True
    if getattr(model.config, "_attn_implementation", None) == "eager":
        blocked = torch.finfo(model.dtype).min
        mask = torch.zeros((count, count), dtype=model.dtype).masked_fill(~allowed, blocked)
    else:
        mask = allowed
    input_ids = torch.tensor([tree.tokens], dtype=torch.long, device=device)
    positions = torch.tensor([tree.depths], dtype=torch.long, device=device)
    keep = torch.tensor(tree.reads, dtype=torch.long, device=device)
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids,
            attention_mask=mask[None, None].to(device),
            position_ids=positions,
            logits_to_keep=keep,
            use_cache=False,
        ).logits
    logprobs = logits[0].float().log_softmax(dim=-1)
    results: list[LogProbs] = []
    first = 0
    for sequence in sequences:
        results.append(_pick_targets(logprobs[first : first + sequence.reads], sequence))
        first += sequence.reads
    return results


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
    return [
        _pick_targets(logprobs[row, keep - sequence.reads :], sequence)
        for row, sequence in enumerate(sequences)
    ]


def _pick_targets(rows: Any, sequence: TokenSequence) -> LogProbs:
    """Return the log-probabilities of ``sequence``'s targets, one row per read position."""
    return [
        [float(value) for value in row[list(targets)].cpu().tolist()]
        for row, targets in zip(rows, sequence.targets, strict=True)
    ]
