"""The readouts an OpenAI-compatible server allows, and how their responses are read.

- ``chat_logprobs``: the chat endpoint with ``logprobs=true``. The answer stem
  is sent as a final assistant message, which only servers that continue that
  message place right before the answer (the probe checks this).
- ``completions_logprobs``: the completions endpoint with ``logprobs=k`` and a
  prompt rendered here, by a chat template or as plain text.
- ``generation``: the model writes a short answer at temperature 0, and
  :func:`parse_choice` reads the option letter from it strictly.

Candidate letters are matched to the top-k tokens by exact text: ``" A"`` does
not count as ``"A"``. After a stem such as ``Answer: (`` the two are different
continuations, and the in-process backends score exactly the candidate's own
token, so merging variants would report a number no backend computes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sycocore.prompts import render_chat, render_plain
from sycocore.schemas import Conversation

from .transport import HTTPStatusError

__all__ = [
    "ReadoutKind",
    "ReadoutPlan",
    "TopToken",
    "chat_messages",
    "chat_top_tokens",
    "completion_prompt",
    "completion_top_tokens",
    "generated_text",
    "letter_logprobs",
    "parse_choice",
]

ReadoutKind = Literal["chat_logprobs", "completions_logprobs", "generation"]

CHAT_PATH = "chat/completions"
COMPLETIONS_PATH = "completions"


@dataclass(frozen=True)
class TopToken:
    """One entry of a server's top-k list at the answer position."""

    text: str
    logprob: float


@dataclass(frozen=True)
class ReadoutPlan:
    """The endpoint, prompt rendering and readout chosen by the capability probe."""

    kind: ReadoutKind
    """Readout that scores next-token requests."""
    reason: str
    """Reason the probe chose it, for the manifest."""
    endpoint: Literal["chat", "completions"] = "chat"
    """Endpoint used for log-probabilities or generation."""
    stem_in_chat: bool = False
    """True when the chat endpoint continues a final assistant message, so the
    answer stem can be sent as the start of the assistant turn."""
    chat_extra: dict[str, Any] = field(default_factory=dict)
    """Extra request fields that make the server continue the final assistant
    message, e.g. vLLM's ``continue_final_message``."""
    template: str | None = None
    """Chat template for the completions endpoint; ``None`` renders plain text."""
    eos_token: str = ""
    """End-of-sequence text given to the chat template."""

    @property
    def continuation_mode(self) -> str:
        """How the answer stem reaches the model, for identity and manifest."""
        if self.endpoint == "completions":
            return "rendered_prompt" if self.template else "plain_prompt"
        if not self.stem_in_chat:
            return "none"
        return "continue_final_message" if self.chat_extra else "final_assistant_message"


def chat_messages(conversation: Conversation, place_stem: bool) -> list[dict[str, str]]:
    """Return the chat messages, with the answer stem as a final assistant message when placed."""
    messages = [{"role": m.role, "content": m.content} for m in conversation.messages]
    if place_stem and conversation.answer_stem:
        messages.append({"role": "assistant", "content": conversation.answer_stem})
    return messages


def completion_prompt(conversation: Conversation, plan: ReadoutPlan) -> str:
    """Render the prompt text for the completions endpoint, ending with the answer stem.

    The template gets an empty ``bos_token`` because servers add the BOS token
    themselves when they tokenize a completion prompt (llama.cpp, vLLM), and a
    second one would change the numbers.
    """
    if plan.template is None:
        return render_plain(conversation)
    return render_chat(plan.template, conversation, bos_token="", eos_token=plan.eos_token)


def chat_top_tokens(body: dict[str, Any], url: str) -> list[TopToken]:
    """Return the top-k list of the first generated token from a chat completion."""
    choice = _first_choice(body, url)
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        raise _missing(url, "choices[0].logprobs.content")
    entries = content[0].get("top_logprobs")
    if not isinstance(entries, list) or not entries:
        raise _missing(url, "choices[0].logprobs.content[0].top_logprobs")
    tokens = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise _malformed(url, "a top_logprobs entry without a token", entry)
        tokens.append(TopToken(entry["token"], _logprob(entry.get("logprob"), url)))
    return tokens


def completion_top_tokens(body: dict[str, Any], url: str) -> list[TopToken]:
    """Return the top-k list of the first generated token from a text completion."""
    choice = _first_choice(body, url)
    logprobs = choice.get("logprobs")
    top = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    if not isinstance(top, list) or not top or not isinstance(top[0], dict) or not top[0]:
        raise _missing(url, "choices[0].logprobs.top_logprobs[0]")
    return [TopToken(str(text), _logprob(value, url)) for text, value in top[0].items()]


def generated_text(body: dict[str, Any], url: str, endpoint: Literal["chat", "completions"]) -> str:
    """Return the generated text of the first choice."""
    choice = _first_choice(body, url)
    if endpoint == "completions":
        text = choice.get("text")
    else:
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        field_name = "text" if endpoint == "completions" else "message.content"
        raise _missing(url, f"choices[0].{field_name}")
    return text


def letter_logprobs(
    top: Sequence[TopToken], candidates: Sequence[str], requested: int
) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    """Return each candidate's log-probability and whether it is only an upper bound.

    A candidate found in ``top`` (exact text match) gets the value the server
    returned. A candidate absent from it gets the ``requested``-th highest
    value (or the lowest, when fewer came back) as an upper bound: every token
    outside the top k is at most that likely. The ``requested``-th value rather
    than the minimum is used because some servers add the sampled token to the
    list even when it ranks below the top k.
    """
    by_text: dict[str, float] = {}
    for token in top:
        # NOTE: two token ids with the same text (e.g. byte fallbacks) keep the more
        # likely one, which is the value an exact single-token match would read.
        by_text[token.text] = max(token.logprob, by_text.get(token.text, -math.inf))
    ranked = sorted((token.logprob for token in top), reverse=True)
    bound = ranked[min(requested, len(ranked)) - 1]
    values = []
    bounded = []
    for candidate in candidates:
        if candidate in by_text:
            values.append(by_text[candidate])
            bounded.append(False)
        else:
            values.append(bound)
            bounded.append(True)
    return tuple(values), tuple(bounded)


_LEAD_IN = r"(?i:(?:the\s+)?(?:correct\s+)?answer(?:\s+is)?\s*:?\s*)?"
_ANSWER = re.compile(rf"^\s*{_LEAD_IN}\(?(?P<letter>[A-Z])(?:\)|\.?\s*$|\.\s)")


def parse_choice(text: str, candidates: Sequence[str]) -> int | None:
    """Return the index of the option letter that ``text`` answers, or ``None``.

    Accepted, after optional spaces and an optional ``Answer:``, ``Answer is``
    or ``The correct answer is``: ``(A)``, ``A)``, ``(A`` or ``A`` at the end
    of the text, ``A.``, each optionally followed by the option's text after
    the closing bracket or full stop. Lower-case letters, ``A good guess``,
    a letter that is not a candidate, and an answer that also names another
    option as ``(B)`` are all unparsed.
    """
    match = _ANSWER.match(text)
    if match is None:
        return None
    letter = match.group("letter")
    if letter not in candidates:
        return None
    rest = text[match.end() :]
    for other in candidates:
        if other != letter and f"({other})" in rest:
            return None
    return list(candidates).index(letter)


def _first_choice(body: dict[str, Any], url: str) -> dict[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _missing(url, "choices[0]")
    choice: dict[str, Any] = choices[0]
    return choice


def _logprob(value: Any, url: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(url, "a log-probability that is not a number", value)
    number = float(value)
    if math.isnan(number) or number > 1e-6:
        raise _malformed(url, "a log-probability outside (-inf, 0]", value)
    return number


def _missing(url: str, field_name: str) -> HTTPStatusError:
    return HTTPStatusError(
        f"{url} returned no {field_name} in its response, so no log-probability can be "
        "read; the server may not support this readout: choose another with "
        "-B readout=generation",
        None,
        url,
    )


def _malformed(url: str, what: str, value: Any) -> HTTPStatusError:
    return HTTPStatusError(f"{url} returned {what}: {str(value)[:80]!r}", None, url)
