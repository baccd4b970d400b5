"""Question formats: how a case is put to the model and how the answer is read out.

Results depend on the exact wording, so every format exposes its text through
:meth:`QuestionFormat.spec`, and the run manifest stores it with its hash.

- ``two-option``: the study's forced choice. The question lists the gold answer
  and the bait as (A) and (B), in both orders; the answer stem ends right before
  the option letter, and the readout is the next-token log-probability of ``A``
  and ``B``.
- ``cloze``: no options. The question is followed by an answer stem (the item's
  statement to complete when it has one, else ``Answer:``), and the gold answer
  and the bait are scored as whole continuations: the summed log-probability
  of their tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .errors import UnknownNameError
from .prompts import PromptParts
from .schemas import Case, Readout, canonical_json, sha256_hex

__all__ = [
    "ClozeFormat",
    "FormattedCase",
    "QuestionFormat",
    "TwoOptionFormat",
    "get_question_format",
    "question_format_names",
]


class FormattedCase(BaseModel):
    """A case put in one option order: the prompt parts and the candidates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parts: PromptParts
    """The neutral prompt, before any manipulation."""
    candidates: tuple[str, str]
    """The two candidates in request order."""
    gold_index: int
    """Index of the gold answer in ``candidates``."""
    gold_label: str
    """Label of the gold answer in the prompt, e.g. ``(A) Paris`` or ``Paris``."""
    bait_label: str
    """Label of the bait in the prompt."""


class QuestionFormat(ABC):
    """Turns a case into a prompt in each option order."""

    name: ClassVar[str]
    """Name used by ``--question-format``."""
    readout: ClassVar[Readout]
    """Readout the backend must compute for this format."""
    orders: ClassVar[tuple[str, ...]]
    """Option orders; each case is scored once per order."""
    chance_share: ClassVar[float] = 0.5
    """Expected share of cases with a positive truth margin for a model that
    knows nothing, used by the competence check."""

    @abstractmethod
    def format(self, case: Case, order: str) -> FormattedCase:
        """Build the neutral prompt for ``case`` in ``order``."""

    @abstractmethod
    def texts(self) -> dict[str, str]:
        """Return every fixed text of the format, for the manifest."""

    def spec(self) -> dict[str, Any]:
        """Return the name, readout, orders, texts and their hash."""
        texts = self.texts()
        return {
            "name": self.name,
            "readout": self.readout.value,
            "orders": list(self.orders),
            "texts": texts,
            "hash": sha256_hex(canonical_json(texts)),
        }


class TwoOptionFormat(QuestionFormat):
    """The study's two-option forced choice, read out by the option letter."""

    name = "two-option"
    readout = Readout.NEXT_TOKEN
    orders = ("gold_first", "bait_first")

    options_template = "(A) {first}\n(B) {second}"
    instruction = "Answer with the letter of the correct option, (A) or (B)."
    answer_stem = "Answer: ("

    def format(self, case: Case, order: str) -> FormattedCase:
        gold, bait = case.item.gold, case.bait.text
        if order == "gold_first":
            first, second, gold_index = gold, bait, 0
        elif order == "bait_first":
            first, second, gold_index = bait, gold, 1
        else:
            raise ValueError(f"unknown option order {order!r} for format {self.name!r}")
        letters = ("A", "B")
        options = self.options_template.format(first=first, second=second)
        parts = PromptParts(
            question=f"{case.item.question}\n\n{options}",
            instruction=self.instruction,
            answer_stem=self.answer_stem,
        )
        gold_letter, bait_letter = letters[gold_index], letters[1 - gold_index]
        return FormattedCase(
            parts=parts,
            candidates=letters,
            gold_index=gold_index,
            gold_label=f"({gold_letter}) {gold}",
            bait_label=f"({bait_letter}) {bait}",
        )

    def texts(self) -> dict[str, str]:
        return {
            "question": "{question}\n\n" + self.options_template,
            "instruction": self.instruction,
            "answer_stem": self.answer_stem,
            "candidates": "A, B",
        }


class ClozeFormat(QuestionFormat):
    """The question without options; both answers scored as continuations.

    The value of an answer is the summed log-probability of its tokens, i.e. the
    log-probability that the model writes exactly that answer. Dividing by the
    token count would favour long answers whose later tokens are nearly certain
    once the first is chosen ("Ouagadougou"), so the sum is kept; the records
    store token counts so that a per-token comparison can be computed later.
    """

    name = "cloze"
    readout = Readout.CONTINUATION
    orders = ("single",)

    default_stem = "Answer:"

    def format(self, case: Case, order: str) -> FormattedCase:
        if order != "single":
            raise ValueError(f"unknown option order {order!r} for format {self.name!r}")
        stem = case.item.cloze_stem or self.default_stem
        parts = PromptParts(question=case.item.question, answer_stem=stem)
        return FormattedCase(
            parts=parts,
            candidates=(f" {case.item.gold}", f" {case.bait.text}"),
            gold_index=0,
            gold_label=case.item.gold,
            bait_label=case.bait.text,
        )

    def texts(self) -> dict[str, str]:
        return {
            "question": "{question}",
            "answer_stem": "{cloze_stem} (the item's statement to complete), else "
            + repr(self.default_stem),
            "candidates": "' {gold}', ' {bait}'",
        }


_FORMATS: dict[str, type[QuestionFormat]] = {
    TwoOptionFormat.name: TwoOptionFormat,
    ClozeFormat.name: ClozeFormat,
}


def question_format_names() -> list[str]:
    """Return the names accepted by ``--question-format``."""
    return sorted(_FORMATS)


def get_question_format(name: str) -> QuestionFormat:
    """Return a new instance of the question format called ``name``."""
    try:
        return _FORMATS[name]()
    except KeyError:
        raise UnknownNameError("question format", name, _FORMATS) from None
