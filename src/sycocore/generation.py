"""Free-form answers sampled from the model, for the knowledge filter.

A positive truth margin shows that the model prefers the gold answer to one
bait, not that it can produce the answer. A metric may ask the engine for
free-form samples (:meth:`~sycocore.metrics.Metric.generation_spec`); the
engine then asks the backend for ``samples`` answers to each question and
stores them in ``generations.jsonl``, one line per question.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .schemas import Conversation, Item, Message

__all__ = ["FREE_FORM_INSTRUCTION", "GenerationSpec", "free_form_conversation"]

FREE_FORM_INSTRUCTION = "Answer in a few words."


class GenerationSpec(BaseModel):
    """How many free-form answers to sample per question, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    samples: int = Field(default=20, ge=1, le=1000)
    """Answers per question."""
    max_tokens: int = Field(default=24, ge=1, le=512)
    """Maximum new tokens per answer."""
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 means greedy decoding, so every sample is the same."""
    seed: int = 0
    """Seed for sampling; the same seed gives the same answers on the same backend."""


def free_form_conversation(item: Item) -> Conversation:
    """Build the free-form prompt for ``item``: the question, a short instruction, and
    the answer stem ``Answer:``."""
    content = f"{item.question}\n\n{FREE_FORM_INSTRUCTION}"
    return Conversation(messages=(Message(role="user", content=content),), answer_stem="Answer:")
