"""Turn conversations into token ids, and candidates into the tokens to score.

The chat template is rendered by :func:`sycocore.prompts.render_chat`, the same
sandboxed renderer the llama.cpp backend uses, so both backends feed a model
the same text. Text is tokenized without the tokenizer's special tokens. The
backend then prepends BOS only when the tokenizer would add one and the text
does not already start with it, so a template that writes BOS itself never
yields two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from sycocore.errors import BackendError, ConfigError
from sycocore.prompts import render_chat, render_plain, template_hash
from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

from .forward import TokenSequence

__all__ = ["EXAMPLE_CONVERSATION", "BosHandling", "PreparedRequest", "PromptRenderer"]

logger = logging.getLogger(__name__)

BosHandling = Literal["none", "in_text", "prepended"]
"""Source of the BOS token: ``none`` (the tokenizer adds none), ``in_text`` (the
rendered text starts with it) or ``prepended`` (the backend adds it)."""

EXAMPLE_CONVERSATION = Conversation(
    messages=(Message(role="user", content="What is the capital of France?"),),
    answer_stem="The capital of France is",
)
"""Fixed conversation rendered for the run manifest."""


@dataclass(frozen=True)
class PreparedRequest:
    """A request as token ids: the prompt and, per candidate, the tokens to score."""

    prompt: tuple[int, ...]
    """Prompt tokens, ending with the answer stem."""
    candidates: tuple[tuple[int, ...], ...]
    """Tokens of each candidate as they follow the prompt."""

    def sequences(self, readout: Readout) -> list[TokenSequence]:
        """Return the sequences to run, with the tokens to read at their final positions.

        The next-token readout runs the prompt once and reads the first token of
        every candidate at its last position. The continuation readout runs the
        prompt plus each candidate without its last token, and reads each
        candidate token at the position that predicts it.
        """
        if readout is Readout.NEXT_TOKEN:
            first_tokens = tuple(tokens[0] for tokens in self.candidates)
            return [TokenSequence(self.prompt, (first_tokens,))]
        return [
            TokenSequence(self.prompt + tokens[:-1], tuple((token,) for token in tokens))
            for tokens in self.candidates
        ]


class PromptRenderer:
    """Renders conversations for one tokenizer in the chosen prompt format."""

    def __init__(self, tokenizer: Any, prompt_format: str, model_label: str) -> None:
        self.tokenizer = tokenizer
        template = getattr(tokenizer, "chat_template", None)
        if isinstance(template, dict):
            template = template.get("default")
        self.template: str | None = template if isinstance(template, str) and template else None

        if prompt_format == "chat" and self.template is None:
            raise ConfigError(
                f"prompt_format 'chat' needs a chat template, and the model {model_label!r} "
                "has none; use prompt_format 'plain' or 'auto'"
            )
        self.format: Literal["chat", "plain"] = (
            "chat" if prompt_format in ("auto", "chat") and self.template is not None else "plain"
        )
        self.bos_id: int | None = tokenizer.bos_token_id
        self.adds_bos = self._tokenizer_adds_bos()
        self._token_cache: dict[str, tuple[int, ...]] = {}

    @property
    def template_hash(self) -> str | None:
        """SHA-256 of the chat template in use, or ``None`` in the plain format."""
        return template_hash(self.template) if self.format == "chat" else None

    def render(self, conversation: Conversation) -> str:
        """Return the prompt text, ending with the answer stem."""
        if self.format == "plain" or self.template is None:
            return render_plain(conversation)
        return render_chat(
            self.template,
            conversation,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
        )

    def bos_handling(self) -> BosHandling:
        """Say how BOS reaches the model in this format, judged on the example prompt."""
        if not self.adds_bos or self.bos_id is None:
            return "none"
        ids = self._encode_text(self.render(EXAMPLE_CONVERSATION))
        return "in_text" if ids and ids[0] == self.bos_id else "prepended"

    def encode(self, text: str) -> tuple[int, ...]:
        """Tokenize ``text`` and prepend BOS when the tokenizer adds one and it is missing."""
        ids = self._encode_text(text)
        if self.adds_bos and self.bos_id is not None and (not ids or ids[0] != self.bos_id):
            ids = (self.bos_id, *ids)
        return ids

    def prepare(self, request: ScoreRequest) -> PreparedRequest:
        """Render and tokenize a request, and split off each candidate's tokens."""
        text = self.render(request.conversation)
        prompt = self.encode(text)
        candidates = tuple(self._candidate_tokens(text, prompt, c) for c in request.candidates)
        if request.readout is Readout.NEXT_TOKEN:
            for candidate, tokens in zip(request.candidates, candidates, strict=True):
                if len(tokens) != 1:
                    raise BackendError(
                        f"candidate {candidate!r} is {len(tokens)} tokens after the answer stem "
                        f"{request.conversation.answer_stem!r} for this tokenizer, and the "
                        "next-token readout needs exactly one; use single-token candidates "
                        "or the cloze question format"
                    )
        return PreparedRequest(prompt=prompt, candidates=candidates)

    def _candidate_tokens(
        self, text: str, prompt: tuple[int, ...], candidate: str
    ) -> tuple[int, ...]:
        # The natural split: tokenize prompt and candidate together and keep what
        # follows the prompt's own tokens.
        joined = self.encode(text + candidate)
        if joined[: len(prompt)] == prompt and len(joined) > len(prompt):
            return joined[len(prompt) :]

        # A token crosses the boundary (e.g. a stem that ends in a space). The
        # prompt tokens must stay as they are, so the candidate is tokenized on
        # its own and must read back as itself.
        alone = self._encode_text(candidate)
        if not alone or self.tokenizer.decode(list(alone)) != candidate:
            raise BackendError(
                f"candidate {candidate!r} cannot be split from the prompt into its own tokens "
                "with this tokenizer; end the answer stem without trailing whitespace"
            )
        logger.debug("candidate %r merges with the prompt; tokenized on its own", candidate)
        return alone

    def _encode_text(self, text: str) -> tuple[int, ...]:
        cached = self._token_cache.get(text)
        if cached is None:
            cached = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            if len(self._token_cache) > 4096:
                self._token_cache.clear()
            self._token_cache[text] = cached
        return cached

    def _tokenizer_adds_bos(self) -> bool:
        if self.bos_id is None:
            return False
        with_special = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        without = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        return (
            bool(with_special) and with_special[0] == self.bos_id and without[:1] != [self.bos_id]
        )
