"""Free-form answers sampled token by token, for the knowledge filter.

Sampling runs through the same :class:`PrefixContext` as scoring, so the prompt
is decoded once and each new token costs one short decode over the KV cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from sycocore.generation import GenerationSpec

from ._context import PrefixContext, log_softmax


def sample_tokens(
    context: PrefixContext,
    prompt: Sequence[int],
    spec: GenerationSpec,
    stop_tokens: set[int],
) -> list[list[int]]:
    """Return ``spec.samples`` token sequences continuing ``prompt``.

    Tokens are drawn from the softmax of the logits divided by the temperature
    (greedy at temperature 0), with a NumPy generator seeded by ``spec.seed``.
    A sequence ends at a stop token, which is not included, or at ``max_tokens``.
    """
    generator = np.random.default_rng(spec.seed)
    samples: list[list[int]] = []
    for _ in range(spec.samples):
        tokens = list(prompt)
        new: list[int] = []
        for _ in range(spec.max_tokens):
            logits = context.logits(tokens, len(tokens) - 1)[-1]
            token = _draw(logits, spec.temperature, generator.random)
            if token in stop_tokens:
                break
            new.append(token)
            tokens.append(token)
        samples.append(new)
    return samples


def _draw(logits: npt.NDArray[np.float32], temperature: float, uniform: Callable[[], float]) -> int:
    if temperature <= 0:
        return int(np.argmax(logits))
    scaled = (logits / np.float32(temperature)).astype(np.float32)
    probabilities = np.exp(log_softmax(scaled))
    cumulative = np.cumsum(probabilities)
    index = int(np.searchsorted(cumulative, uniform() * cumulative[-1], side="right"))
    return min(index, len(cumulative) - 1)
