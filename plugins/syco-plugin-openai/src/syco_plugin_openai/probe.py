"""The capability probe: which readout a server really supports.

Each step sends one request whose right answer is known: the model is asked
for the alphabet and the answer stem is ``A B C D E F G H``, so a server that
places the stem right before the answer returns ``I`` as its most likely next
token, and one that restarts the assistant turn returns something else.

- ``chat_logprobs`` needs top-k log-probabilities from the chat endpoint and
  a server that continues the final assistant message, either by itself
  (llama.cpp's server) or when asked with ``continue_final_message`` (vLLM).
- ``completions_logprobs`` needs top-k log-probabilities from the completions
  endpoint and a prompt rendered here: by the chat template given in the
  options or served at the llama.cpp server's ``/props``, or as plain text
  with ``--prompt-format plain``.
- ``generation`` needs only generated text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sycocore.errors import CapabilityError
from sycocore.schemas import Conversation, Message

from .readouts import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    ReadoutKind,
    ReadoutPlan,
    TopToken,
    chat_messages,
    chat_top_tokens,
    completion_prompt,
    completion_top_tokens,
    generated_text,
)
from .transport import HTTPStatusError, Transport

__all__ = ["PROBE_CONVERSATION", "ProbeReport", "ServerSettings", "run_probe"]

logger = logging.getLogger(__name__)

PROBE_CONVERSATION = Conversation(
    messages=(
        Message(
            role="user",
            content="Write the capital letters of the alphabet in order, separated by spaces.",
        ),
    ),
    answer_stem="A B C D E F G H",
)
"""A prompt whose next token is ``I`` exactly when the answer stem is continued."""
PROBE_EXPECTED = "I"

VLLM_CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}
"""Request fields with which vLLM continues the final assistant message."""

# Statuses that servers return for request fields they do not support.
_UNSUPPORTED = frozenset({400, 404, 405, 422, 501})


@dataclass(frozen=True)
class ServerSettings:
    """Request settings and user choices that the probe depends on."""

    model: str
    top_logprobs: int
    readout: str
    """``auto`` or one readout name."""
    prompt_format: str
    template: str | None
    template_source: str | None
    eos_token: str = ""


@dataclass
class ProbeReport:
    """Outcomes of the probe steps, for the manifest."""

    steps: dict[str, str] = field(default_factory=dict)
    """Outcome of each step, by readout name."""


def run_probe(transport: Transport, settings: ServerSettings) -> tuple[ReadoutPlan, ProbeReport]:
    """Probe the server and return the readout plan to use.

    An explicitly requested readout that does not work raises
    :class:`~sycocore.errors.CapabilityError`; with ``auto`` the first that
    works wins, in the order chat, completions, generation. Errors that no
    readout can get around (unreachable server, bad key) propagate.
    """
    report = ProbeReport()
    order: list[ReadoutKind]
    if settings.readout == "auto":
        order = ["chat_logprobs", "completions_logprobs", "generation"]
        if settings.prompt_format == "plain":
            # The chat endpoint always applies the server's template, never plain text.
            order = ["completions_logprobs", "generation"]
    else:
        order = [settings.readout]  # type: ignore[list-item]

    for kind in order:
        if kind == "chat_logprobs":
            plan = _probe_chat(transport, settings, report)
        elif kind == "completions_logprobs":
            plan = _probe_completions(transport, settings, report)
        else:
            plan = _probe_generation(transport, settings, report)
        if plan is not None:
            logger.info("readout %s chosen: %s", plan.kind, plan.reason)
            return plan, report

    tried = "; ".join(f"{name}: {outcome}" for name, outcome in report.steps.items())
    if settings.readout == "auto":
        raise CapabilityError(f"no readout works with the server at {transport.base_url}: {tried}")
    raise CapabilityError(
        f"readout {settings.readout!r} does not work with the server at {transport.base_url}: "
        f"{tried}; use -B readout=auto to pick one that works"
    )


def _probe_chat(
    transport: Transport, settings: ServerSettings, report: ProbeReport
) -> ReadoutPlan | None:
    url = f"{transport.base_url}/{CHAT_PATH}"
    payload: dict[str, Any] = {
        "model": settings.model,
        "messages": chat_messages(PROBE_CONVERSATION, place_stem=True),
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": settings.top_logprobs,
    }
    outcomes = []
    for extra in ({}, VLLM_CONTINUE):
        label = "with continue_final_message" if extra else "plain"
        try:
            body = transport.post_json(CHAT_PATH, {**payload, **extra})
            top = chat_top_tokens(body, url)
        except HTTPStatusError as error:
            if error.status is not None and error.status not in _UNSUPPORTED:
                raise
            outcomes.append(f"{label}: {error}")
            if error.status is None and not extra:
                # No log-probabilities at all: asking again with vLLM's fields will not help.
                break
            continue
        first = _most_likely(top)
        if first.text.strip() == PROBE_EXPECTED:
            reason = (
                "the chat endpoint returns top-k log-probabilities and continues a final "
                "assistant message"
                + (" when asked with continue_final_message" if extra else "")
                + ", so the answer stem is placed exactly"
            )
            report.steps["chat_logprobs"] = f"works ({label})"
            return ReadoutPlan(
                kind="chat_logprobs", reason=reason, stem_in_chat=True, chat_extra=dict(extra)
            )
        outcomes.append(
            f"{label}: the most likely next token after the stem is {first.text!r}, "
            f"not {PROBE_EXPECTED!r}, so the server does not continue the final assistant "
            "message and the answer stem cannot be placed"
        )
    report.steps["chat_logprobs"] = "not usable: " + "; ".join(outcomes)
    return None


def _probe_completions(
    transport: Transport, settings: ServerSettings, report: ProbeReport
) -> ReadoutPlan | None:
    if settings.template is None and settings.prompt_format != "plain":
        report.steps["completions_logprobs"] = (
            "not tried: no chat template to render the prompt with (give -B chat_template=PATH, "
            "serve it at /props, or use --prompt-format plain for a base model)"
        )
        return None
    template = settings.template if settings.prompt_format != "plain" else None
    plan = ReadoutPlan(
        kind="completions_logprobs",
        reason="",
        endpoint="completions",
        template=template,
        eos_token=settings.eos_token,
    )
    url = f"{transport.base_url}/{COMPLETIONS_PATH}"
    payload = {
        "model": settings.model,
        "prompt": completion_prompt(PROBE_CONVERSATION, plan),
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": settings.top_logprobs,
    }
    try:
        top = completion_top_tokens(transport.post_json(COMPLETIONS_PATH, payload), url)
    except HTTPStatusError as error:
        if error.status is not None and error.status not in _UNSUPPORTED:
            raise
        report.steps["completions_logprobs"] = f"not usable: {error}"
        return None
    first = _most_likely(top)
    if first.text.strip() != PROBE_EXPECTED:
        report.steps["completions_logprobs"] = (
            f"not usable: the most likely next token after the rendered prompt is "
            f"{first.text!r}, not {PROBE_EXPECTED!r}; the chat template "
            f"({settings.template_source or 'plain text'}) may not match the model"
        )
        return None
    rendering = (
        f"rendered with the chat template from {settings.template_source}"
        if template
        else "rendered as plain text"
    )
    report.steps["completions_logprobs"] = "works"
    return ReadoutPlan(
        kind="completions_logprobs",
        reason=f"the completions endpoint returns top-k log-probabilities for a prompt {rendering}",
        endpoint="completions",
        template=template,
        eos_token=settings.eos_token,
    )


def _probe_generation(
    transport: Transport, settings: ServerSettings, report: ProbeReport
) -> ReadoutPlan | None:
    """Check that the server generates text, and whether it continues a final assistant turn."""
    if settings.prompt_format == "plain" or settings.template is not None:
        plan = ReadoutPlan(
            kind="generation",
            reason="",
            endpoint="completions",
            template=settings.template if settings.prompt_format != "plain" else None,
            eos_token=settings.eos_token,
        )
        path = COMPLETIONS_PATH
        payload: dict[str, Any] = {
            "model": settings.model,
            "prompt": completion_prompt(PROBE_CONVERSATION, plan),
        }
    else:
        plan = ReadoutPlan(kind="generation", reason="", endpoint="chat")
        path = CHAT_PATH
        payload = {
            "model": settings.model,
            "messages": chat_messages(PROBE_CONVERSATION, place_stem=True),
        }
    payload.update(max_tokens=3, temperature=0)
    url = f"{transport.base_url}/{path}"
    try:
        text = generated_text(transport.post_json(path, payload), url, plan.endpoint)
    except HTTPStatusError as error:
        if error.status is not None and error.status not in _UNSUPPORTED:
            raise
        report.steps["generation"] = f"not usable: {error}"
        return None

    continued = text.lstrip().startswith(PROBE_EXPECTED)
    if plan.endpoint == "chat":
        stem = "placed as a final assistant message" if continued else "left out"
        plan = ReadoutPlan(
            kind="generation",
            reason=(
                "answers are generated on the chat endpoint and parsed strictly; "
                f"the answer stem is {stem}"
            ),
            endpoint="chat",
            stem_in_chat=continued,
        )
    else:
        plan = ReadoutPlan(
            kind="generation",
            reason="answers are generated on the completions endpoint and parsed strictly",
            endpoint="completions",
            template=plan.template,
            eos_token=plan.eos_token,
        )
    report.steps["generation"] = f"works (probe answer {text[:20]!r})"
    return plan


def _most_likely(top: list[TopToken]) -> TopToken:
    return max(top, key=lambda token: token.logprob)
