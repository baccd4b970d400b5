"""The parts of a prompt before it becomes a conversation.

A question format fills a :class:`PromptParts`; a manipulation inserts its text
at a :class:`~sycocore.schemas.Position`; :meth:`PromptParts.to_conversation`
joins the parts into one user turn and an answer stem.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from pydantic import BaseModel, ConfigDict

from .schemas import Conversation, Message, Position, sha256_hex

__all__ = ["PromptParts", "render_chat", "render_plain", "template_hash"]


class PromptParts(BaseModel):
    """A single-turn prompt, split where manipulations may add text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str | None = None
    """System message, or ``None`` for none."""
    before_question: tuple[str, ...] = ()
    """Paragraphs before the question."""
    question: str
    """The question, with its options when the format lists them."""
    after_question: tuple[str, ...] = ()
    """Paragraphs between the question and the instruction."""
    instruction: str | None = None
    """How to answer, e.g. ``Answer with the letter of the correct option.``"""
    end_of_turn: tuple[str, ...] = ()
    """Paragraphs after the instruction."""
    answer_stem: str = ""
    """Start of the assistant turn, right before the answer."""

    def insert(self, position: Position, text: str) -> PromptParts:
        """Return a copy with ``text`` added at ``position``.

        ``Position.CUSTOM`` is rejected: such manipulations build the conversation
        themselves.
        """
        if position is Position.SYSTEM:
            system = f"{self.system}\n\n{text}" if self.system else text
            return self.model_copy(update={"system": system})
        if position is Position.BEFORE_QUESTION:
            return self.model_copy(update={"before_question": (*self.before_question, text)})
        if position is Position.AFTER_QUESTION:
            return self.model_copy(update={"after_question": (*self.after_question, text)})
        if position is Position.END_OF_TURN:
            return self.model_copy(update={"end_of_turn": (*self.end_of_turn, text)})
        raise ValueError(f"cannot insert text at position {position.value!r}")

    def user_text(self) -> str:
        """Join the user-turn paragraphs with blank lines."""
        paragraphs = [*self.before_question, self.question, *self.after_question]
        if self.instruction:
            paragraphs.append(self.instruction)
        paragraphs.extend(self.end_of_turn)
        return "\n\n".join(p for p in paragraphs if p)

    def to_conversation(self) -> Conversation:
        """Build the conversation: optional system message, one user turn, the stem."""
        messages = []
        if self.system:
            messages.append(Message(role="system", content=self.system))
        messages.append(Message(role="user", content=self.user_text()))
        return Conversation(messages=tuple(messages), answer_stem=self.answer_stem)


def render_plain(conversation: Conversation) -> str:
    """Render a conversation as plain text for models without a chat template.

    Message contents are joined with blank lines, and the answer stem follows the
    last one after a blank line; with an empty stem the text ends with ``\\n\\n``.
    Roles are not named, so a single-turn prompt reads like a worksheet
    question followed by its answer.
    """
    body = "\n\n".join(message.content for message in conversation.messages)
    return f"{body}\n\n{conversation.answer_stem}"


def render_chat(
    template: str,
    conversation: Conversation,
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """Render a conversation with a Jinja chat template, then append the answer stem.

    The template is run in Jinja's immutable sandbox, so a template from a model
    file cannot reach Python objects. It is rendered with
    ``add_generation_prompt=True``, which opens the assistant turn, and the
    answer stem is appended right after, so the stem is the start of the
    assistant's answer.
    """
    compiled = _compiled_template(template)
    messages = [message.model_dump() for message in conversation.messages]
    rendered = compiled.render(
        messages=messages,
        add_generation_prompt=True,
        bos_token=bos_token,
        eos_token=eos_token,
    )
    return str(rendered) + conversation.answer_stem


def template_hash(template: str | None) -> str | None:
    """Return the SHA-256 of a chat template, or ``None`` without one."""
    return None if template is None else sha256_hex(template)


@functools.lru_cache(maxsize=8)
def _compiled_template(template: str) -> Any:
    # Compiling a chat template took about 4 ms on a 2-core CPU and rendering it a
    # fraction of that, and a run renders thousands of prompts with one or two templates.
    return _chat_environment().from_string(template)


@functools.lru_cache(maxsize=1)
def _chat_environment() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(f"chat template error: {message}")

    def strftime_now(fmt: str) -> str:
        return datetime.datetime.now(datetime.timezone.utc).strftime(fmt)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    return environment
