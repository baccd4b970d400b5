"""Evaluation of token sequences in a llama.cpp context, reusing the cached prefix.

The context keeps the key/value (KV) cache of the tokens it evaluated last in
sequence 0. To evaluate a new sequence, it keeps the longest common prefix with
those tokens, removes the rest from the KV cache and decodes only the new tail.
Logits are requested only at the positions the caller reads, so a prompt of
n tokens costs one logit row, never n.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sycocore.errors import BackendError

if TYPE_CHECKING:
    # numpy is imported where it is used, so that registering the plugin, which
    # every syco command does, does not pay for it.
    import numpy as np
    import numpy.typing as npt

__all__ = ["PrefixContext", "common_prefix_length", "log_softmax"]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Return the number of leading tokens that ``a`` and ``b`` share."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def log_softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Return the log-softmax of one logit row over the full vocabulary, in float64."""
    import numpy as np

    values = logits.astype(np.float64)
    shifted = values - values.max()
    result: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum())
    return result


class PrefixContext:
    """Decodes token sequences in one llama.cpp context and returns chosen logit rows.

    ``llm`` is a ``llama_cpp.Llama``; this class drives its context through the
    low-level API and never calls ``Llama.eval``, so ``Llama.n_tokens`` does not
    track the KV cache. With ``prefix_reuse`` off, every call starts from an
    empty KV cache.
    """

    def __init__(self, llm: Any, n_batch: int, prefix_reuse: bool) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._llm = llm
        self._ctx = llm.ctx
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._n_vocab = int(llm.n_vocab())
        self._n_ctx = int(llm.n_ctx())
        self._n_batch = n_batch
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.prefix_reuse = prefix_reuse
        self.tokens: list[int] = []
        """Tokens whose keys and values are in the KV cache, in order."""
        self.evaluated_tokens = 0
        """Tokens decoded so far."""
        self.reused_tokens = 0
        """Tokens taken from the KV cache instead of being decoded."""

    def logits(self, tokens: Sequence[int], first: int) -> npt.NDArray[np.float32]:
        """Evaluate ``tokens`` and return the logits at positions ``first`` to the end.

        Row ``j`` of the result is the next-token distribution after
        ``tokens[: first + j + 1]``. Positions before ``first`` are taken from
        the KV cache where they match the tokens evaluated last.
        """
        import numpy as np

        if not 0 <= first < len(tokens):
            raise ValueError(f"first={first} is outside a sequence of {len(tokens)} tokens")
        if len(tokens) > self._n_ctx:
            raise BackendError(
                f"the prompt needs {len(tokens)} tokens, more than the context length "
                f"of {self._n_ctx}; "
                f"raise it with -B n_ctx={_next_power_of_two(len(tokens))}"
            )

        keep = common_prefix_length(self.tokens, tokens) if self.prefix_reuse else 0
        # The logits of a cached position are not stored, so every position read
        # is decoded again, together with the token before it (see _chunks).
        keep = max(0, min(keep, first - 1))
        self._truncate(keep)
        self.reused_tokens += keep

        rows = np.empty((len(tokens) - first, self._n_vocab), dtype=np.float32)
        for start, stop in _chunks(keep, len(tokens), self._n_batch):
            outputs = self._decode(tokens[start:stop], start, first)
            for index, position in outputs:
                pointer = self._lib.llama_get_logits_ith(self._ctx, index)
                rows[position - first] = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        return rows

    def reset(self) -> None:
        """Empty the KV cache."""
        self._lib.llama_memory_clear(self._memory, True)
        self.tokens = []

    def close(self) -> None:
        """Free the batch buffers; the context is freed with its ``Llama``."""
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None

    def _truncate(self, keep: int) -> None:
        if keep == len(self.tokens):
            return
        if keep == 0 or not self._lib.llama_memory_seq_rm(self._memory, 0, keep, -1):
            # Models with recurrent state cannot drop a partial tail; start over.
            self.reset()
            return
        del self.tokens[keep:]

    def _decode(self, chunk: Sequence[int], start: int, first: int) -> list[tuple[int, int]]:
        """Decode ``chunk`` from position ``start``; return (batch index, position) per output."""
        batch = self._batch
        outputs: list[tuple[int, int]] = []
        batch.n_tokens = len(chunk)
        for index, token in enumerate(chunk):
            position = start + index
            batch.token[index] = token
            batch.pos[index] = position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = 0
            requested = position >= first
            batch.logits[index] = requested
            if requested:
                outputs.append((index, position))
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            # A failed decode leaves the KV cache in an unknown state.
            self.reset()
            raise BackendError(
                f"llama_decode failed with status {status} on {len(chunk)} tokens at position "
                f"{start}; the context may be too small: raise it with -B n_ctx=..."
            )
        self.tokens.extend(int(token) for token in chunk)
        self.evaluated_tokens += len(chunk)
        return outputs


def _chunks(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Split positions ``start`` to ``stop`` into decode batches of at most ``size`` tokens.

    No batch contains a single token unless the whole range is one token. On the
    CPU, llama.cpp computes a one-token batch with other matrix-vector kernels
    than a larger batch, and its logits differ by up to 0.5 in log-probability
    on SmolLM2 Q4_1 (llama-cpp-python 0.3.36), while batches of two or more
    tokens give bit-identical rows whatever their size. Avoiding one-token
    batches is what makes prefix reuse return the numbers of an empty cache.
    """
    bounds = [(begin, min(begin + size, stop)) for begin in range(start, stop, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        (first_start, first_stop), (_, last_stop) = bounds[-2], bounds[-1]
        bounds[-2:] = [(first_start, first_stop - 1), (first_stop - 1, last_stop)]
    return bounds


def _next_power_of_two(value: int) -> int:
    return 1 << max(value - 1, 1).bit_length()
