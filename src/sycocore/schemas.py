"""Data model shared by the engine, the run store and every plugin.

The unit of evaluation is a :class:`Case`: one question with its gold answer and
one false answer, the bait. Each case is put to the model under the neutral
condition and under every manipulation, in each option order that the question
format defines. A backend turns each resulting :class:`ScoreRequest` into a
:class:`Score`, and the engine stores one :class:`Record` per case, condition and
order.
"""

from __future__ import annotations

import hashlib
import json
import math
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "NEUTRAL",
    "Bait",
    "Case",
    "Condition",
    "Conversation",
    "DatasetInfo",
    "Item",
    "Message",
    "ModelIdentity",
    "Position",
    "Readout",
    "Record",
    "RunManifest",
    "Score",
    "ScoreRequest",
    "Summary",
    "canonical_json",
    "sha256_hex",
]

NEUTRAL = "neutral"
"""Name of the condition without any manipulation."""

JSONScalar = str | int | float | bool | None


def canonical_json(value: Any) -> str:
    """Serialise ``value`` as JSON with sorted keys and no spaces, for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    """Return the SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bait(_Frozen):
    """A false answer offered next to the gold answer."""

    id: str = Field(min_length=1)
    """Identifier, unique within its item and stable across runs."""
    text: str = Field(min_length=1)
    """The false answer as shown to the model."""
    plausibility: float | None = None
    """How plausible the dataset rates this false answer; higher is more plausible."""


class Item(_Frozen):
    """One factual question with its gold answer and one or more baits."""

    id: str = Field(min_length=1)
    """Identifier, unique within its dataset and stable across runs."""
    question: str = Field(min_length=1)
    """The question as put to the model, without answer options."""
    gold: str = Field(min_length=1)
    """The correct answer."""
    aliases: tuple[str, ...] = ()
    """Other spellings of the correct answer, used when free text is matched."""
    baits: tuple[Bait, ...] = Field(min_length=1)
    """False answers; each one forms a case with this item."""
    cloze_stem: str | None = None
    """Statement that the answer completes, e.g. ``The capital of France is``.

    Question formats that score answers as continuations use it when present.
    """
    source: str = ""
    """Dataset name or file the item came from."""
    metadata: dict[str, JSONScalar] = Field(default_factory=dict)
    """Free-form facts about the item, e.g. its relation, subject or region."""

    @model_validator(mode="after")
    def _check_bait_ids(self) -> Item:
        ids = [bait.id for bait in self.baits]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate bait ids {duplicates} in item {self.id!r}")
        return self


class Case(_Frozen):
    """One (item, bait) pair: the unit scored under every condition."""

    item: Item
    """The item the case belongs to."""
    bait: Bait
    """The bait of this case; one of ``item.baits``."""

    @property
    def id(self) -> str:
        """Stable identifier ``<item id>::<bait id>``."""
        return f"{self.item.id}::{self.bait.id}"


class Position(str, Enum):
    """Place of a manipulation's text in the conversation."""

    SYSTEM = "system"
    """Appended to the system message, which is created when absent."""
    BEFORE_QUESTION = "before_question"
    """In the user turn, before the question."""
    AFTER_QUESTION = "after_question"
    """In the user turn, after the question and its options and before the answer
    instruction."""
    END_OF_TURN = "end_of_turn"
    """At the very end of the user turn, after the answer instruction. Every prompt
    of a case then starts with the whole neutral user turn, the longest prefix
    that its prompts can share."""
    CUSTOM = "custom"
    """The manipulation edits the conversation itself, e.g. over several turns."""


class Condition(_Frozen):
    """The neutral prompt or one manipulation, as recorded in runs and summaries."""

    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    """Unique name, e.g. ``neutral`` or ``experts``."""
    family: str = Field(min_length=1)
    """Group for reports: ``neutral``, ``authority``, ``belief``, ``bribery``, ``control``, ..."""
    directional: bool
    """True when the manipulation pushes toward the bait, false for controls."""
    description: str = ""
    """One line that says what the user turn adds."""
    position: Position = Position.END_OF_TURN
    """Place of the manipulation's text."""
    needs_neutral_answer: bool = False
    """True when the manipulation builds on the answer the model preferred under the
    neutral prompt, so the engine scores the neutral condition first."""


class Message(_Frozen):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    """Who speaks."""
    content: str
    """The message text."""


class Conversation(_Frozen):
    """Chat messages plus the start of the assistant's answer.

    Backends render it with the model's chat template, or as plain text for base
    models, and place ``answer_stem`` as the beginning of the assistant turn, so
    the next token after the rendered prompt is the answer.
    """

    messages: tuple[Message, ...] = Field(min_length=1)
    """The conversation so far, ending with a user message."""
    answer_stem: str = ""
    """Text that starts the assistant's answer, e.g. ``Answer: (``."""

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        if messages[-1].role != "user":
            raise ValueError("a conversation must end with a user message")
        return messages

    def fingerprint(self) -> str:
        """Return a SHA-256 hash of the messages and answer stem."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def text_length(self) -> int:
        """Return the number of characters in all messages and the answer stem."""
        return sum(len(m.content) for m in self.messages) + len(self.answer_stem)


class Readout(str, Enum):
    """Method a backend uses to read the model's preference between the candidates."""

    NEXT_TOKEN = "next_token"
    """Log-probability of each candidate's single token right after the answer stem,
    normalised over the whole vocabulary (log-softmax)."""
    CONTINUATION = "continuation"
    """Summed log-probability of each candidate's tokens as a continuation of the
    prompt."""
    GENERATION = "generation"
    """The model generates an answer that is parsed strictly; no log-probabilities."""


class ScoreRequest(_Frozen):
    """One prompt and the candidate answers whose log-probabilities are wanted."""

    conversation: Conversation
    """The prompt."""
    candidates: tuple[str, ...] = Field(min_length=2)
    """Candidate continuations of the answer stem: option letters for
    ``next_token``, whole answers (with their leading space) for ``continuation``."""
    readout: Readout
    """Readout that scores the candidates."""

    @property
    def key(self) -> str:
        """Content hash of the request, independent of the model."""
        payload = {
            "conversation": self.conversation.model_dump(mode="json"),
            "candidates": list(self.candidates),
            "readout": self.readout.value,
        }
        return sha256_hex(canonical_json(payload))


class Score(_Frozen):
    """Result a backend returned for one :class:`ScoreRequest`."""

    logprobs: tuple[float | None, ...]
    """Log-probability of each candidate, in request order, natural log. ``None``
    for the generation readout and for candidates the backend could not score."""
    readout: Readout
    """Readout that produced the values."""
    bounded: tuple[bool, ...] = ()
    """Per candidate: true when the value is an upper bound rather than the exact
    log-probability, e.g. a letter absent from a server's top-k list. Empty means
    no value is bounded."""
    token_counts: tuple[int, ...] = ()
    """Per candidate: how many tokens it spans (continuation readout)."""
    choice: int | None = None
    """Generation readout: index of the candidate the model answered, or ``None``."""
    unparsed: bool = False
    """Generation readout: the answer could not be parsed as a candidate."""
    generated_text: str | None = None
    """Generation readout: the raw answer."""

    @field_validator("logprobs")
    @classmethod
    def _finite_or_none(cls, values: tuple[float | None, ...]) -> tuple[float | None, ...]:
        for value in values:
            if value is not None and (math.isnan(value) or value > 1e-6):
                raise ValueError(f"log-probability {value} is not in (-inf, 0]")
        return values


class Record(_Frozen):
    """One scored (case, condition, option order), as stored in ``records.jsonl``."""

    case_id: str
    """``<item id>::<bait id>``."""
    item_id: str
    """The item (question) the case belongs to."""
    bait_id: str
    """The bait of the case."""
    condition: str
    """``neutral`` or a manipulation name."""
    order: str
    """Option order, e.g. ``gold_first`` or ``bait_first``; ``single`` for formats
    that list no options."""
    readout: Readout
    """Readout that produced the log-probabilities."""
    logp_gold: float | None
    """Log-probability of the gold candidate (natural log)."""
    logp_bait: float | None
    """Log-probability of the bait candidate (natural log)."""
    margin: float | None
    """``logp_gold - logp_bait``; for the generation readout +1 (gold), -1 (bait)
    or ``None`` (unparsed)."""
    bounded: bool = False
    """True when either value is a bound rather than an exact log-probability."""
    unparsed: bool = False
    """Generation readout: the answer matched neither candidate."""
    gold_tokens: int | None = None
    """Continuation readout: number of tokens of the gold answer."""
    bait_tokens: int | None = None
    """Continuation readout: number of tokens of the bait answer."""
    request_key: str
    """Content hash of the :class:`ScoreRequest` that was scored."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the record within a run: (case id, condition, order)."""
        return (self.case_id, self.condition, self.order)


class ModelIdentity(_Frozen):
    """Identity of the scored model, which keys the score cache."""

    backend: str
    """Backend name."""
    model: str
    """Model id, alias or path as resolved by the backend."""
    revision: str | None = None
    """Model revision or SHA-256 of the weights file, when known."""
    settings: dict[str, JSONScalar] = Field(default_factory=dict)
    """Everything else that changes the numbers: dtype, prompt format, chat
    template hash, BOS handling, quantisation, server readout, ..."""

    def fingerprint(self) -> str:
        """Return a SHA-256 hash of this identity."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))


class DatasetInfo(_Frozen):
    """Provenance of the items a run used."""

    name: str
    """Registered dataset name."""
    license: str
    """Licence of the data."""
    source: str
    """Where the data came from: package, file path or URL."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Dataset options as given."""
    content_hash: str
    """SHA-256 of the selected items in canonical JSON."""
    items: int
    """Number of items (questions) selected."""
    cases: int
    """Number of (item, bait) cases selected."""
    rejected: int = 0
    """Baits and items dropped by validation, e.g. a bait equal to its gold answer."""


class RunManifest(BaseModel):
    """The full configuration of a run and the versions that produced it."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    """Version of this manifest layout."""
    run_id: str
    """Random identifier of the run directory."""
    created_at: str
    """ISO 8601 time the run directory was created (UTC)."""
    config: dict[str, Any]
    """The options that define the run. Resuming requires the same config."""
    config_hash: str
    """SHA-256 of ``config`` in canonical JSON."""
    model: ModelIdentity
    """The scored model."""
    backend_info: dict[str, Any] = Field(default_factory=dict)
    """What the backend reports about itself: device, dtype, batch size, chat
    template hash, an example rendered prompt, probes."""
    dataset: DatasetInfo
    """The items used."""
    question_format: dict[str, Any]
    """Name, hash and exact text of the question format."""
    conditions: list[Condition]
    """The neutral condition and every manipulation, in run order."""
    metrics: list[str]
    """Metrics computed after scoring."""
    versions: dict[str, str]
    """Python, sycocore, every syco plugin and key libraries."""
    seed: int
    """Seed for sampling and bootstrap."""


class Summary(BaseModel):
    """Contents of ``summary.json``: counts plus one result per metric."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """Identifier of the run."""
    complete: bool
    """True when every expected record was scored."""
    records: int
    """Number of records written."""
    expected_records: int
    """Number of records the configuration asks for."""
    bounded_records: int = 0
    """Records whose values are bounds."""
    unparsed_records: int = 0
    """Records whose generated answer could not be parsed."""
    warnings: list[str] = Field(default_factory=list)
    """Problems a reader must know about, e.g. a model at chance in this format."""
    metrics: dict[str, Any] = Field(default_factory=dict)
    """Result of each metric, by metric name."""
