"""The ``llamacpp`` backend: GGUF models scored in process by llama-cpp-python.

Prompts are rendered with the chat template stored in the GGUF file (or as
plain text), tokenised by llama.cpp, and evaluated in one context whose KV
cache keeps the prefix shared with the previous prompt. Both readouts take
log-softmax over the full vocabulary of logits read only at the positions
that are scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from sycocore.backends import Backend, BackendOptions
from sycocore.errors import BackendError, CapabilityError, ConfigError, MissingDependencyError
from sycocore.generation import GenerationSpec
from sycocore.models import DEFAULT_MODEL, ModelAlias, get_alias
from sycocore.prompts import render_chat, render_plain, template_hash
from sycocore.schemas import Conversation, Message, ModelIdentity, Readout, Score, ScoreRequest

from ._context import PrefixContext, log_softmax
from ._files import file_sha256, resolve_model, usable_physical_cores

__all__ = ["INSTALL_COMMAND", "LlamaCppBackend", "LlamaCppOptions"]

INSTALL_COMMAND = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
    '-DGGML_BMI2=ON -DGGML_SSE42=ON" pip install --no-cache-dir llama-cpp-python==0.3.36'
)
"""Builds llama-cpp-python without ``GGML_NATIVE``, whose build crashes on CPUs with AMX."""

_EXAMPLE = Conversation(
    messages=(Message(role="user", content="What is the capital of France?"),),
    answer_stem="The capital of France is",
)


class LlamaCppOptions(BackendOptions):
    """Options of the ``llamacpp`` backend (``-B key=value``)."""

    threads: int | None = Field(default=None, ge=1)
    """CPU threads; ``None`` uses one per usable physical core."""
    n_ctx: int = Field(default=2048, ge=32)
    """Context length in tokens: the longest prompt plus its longest candidate."""
    n_batch: int = Field(default=512, ge=3)
    """Most tokens decoded per llama.cpp call. At least 3, so that no call
    decodes a single token, whose logits llama.cpp computes differently."""
    seed: int | None = None
    """Seed of llama.cpp's sampler. Scoring never samples, so it changes no number."""
    prefix_reuse: bool = True
    """Keep the KV cache of the prefix shared with the previous prompt and
    evaluate only the rest. Off, every prompt is evaluated from an empty cache."""


class LlamaCppBackend(Backend):
    """Scores GGUF models in process with llama.cpp; next-token and continuation readouts."""

    name = "llamacpp"
    description = "GGUF models in process with llama.cpp (CPU); the embedded default model"
    readouts = frozenset({Readout.NEXT_TOKEN, Readout.CONTINUATION})
    Options = LlamaCppOptions
    runtime_options = frozenset(
        {"batch_size", "threads", "n_ctx", "n_batch", "seed", "prefix_reuse"}
    )

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        self.options: LlamaCppOptions = LlamaCppOptions.model_validate(options.model_dump())
        self._llm: Any = None
        self._context: PrefixContext | None = None
        self._path: Path | None = None
        self._alias: ModelAlias | None = None
        self._template: str | None = None
        self._prompt_format = "plain"
        self._bos = -1
        self._add_bos = False
        self._bos_text = ""
        self._eos_text = ""
        self._threads = 1

    # Loading ----------------------------------------------------------------------------

    def load(self) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise MissingDependencyError(
                "llama-cpp-python", INSTALL_COMMAND, "the llamacpp backend"
            ) from None

        path, alias = resolve_model(self.options.model)
        threads = self.options.threads or usable_physical_cores()
        settings: dict[str, Any] = {}
        if self.options.seed is not None:
            settings["seed"] = self.options.seed
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.options.n_ctx,
                n_batch=self.options.n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=False,
                verbose=False,
                **settings,
            )
        except ValueError as error:
            raise BackendError(
                f"llama.cpp failed to load the model file {str(path)!r} ({error}); "
                "check that it is a complete GGUF file of an architecture that "
                f"llama-cpp-python {llama_cpp.__version__} supports"
            ) from None

        self._llm, self._path, self._alias, self._threads = llm, path, alias, threads
        self._template = llm.metadata.get("tokenizer.chat_template")
        self._prompt_format = self._choose_prompt_format()
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._bos = int(llm.token_bos())
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab)) and self._bos >= 0
        self._bos_text = _token_text(llama_cpp, vocab, self._bos)
        self._eos_text = _token_text(llama_cpp, vocab, int(llm.token_eos()))
        # llama.cpp may raise n_ctx to its minimum, and Llama caps n_batch at n_ctx.
        self._context = PrefixContext(llm, int(llm.n_batch), self.options.prefix_reuse)

    def _choose_prompt_format(self) -> str:
        requested = self.options.prompt_format
        if requested == "chat" and self._template is None:
            raise ConfigError(
                f"model {str(self._path)!r} has no chat template (tokenizer.chat_template); "
                "use --prompt-format plain or auto"
            )
        if requested == "auto":
            return "chat" if self._template is not None else "plain"
        return requested

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # Description ------------------------------------------------------------------------

    def identity(self) -> ModelIdentity:
        import llama_cpp

        path = self._loaded_path()
        settings: dict[str, str | int | float | bool | None] = {
            "prompt_format": self._prompt_format,
            "chat_template_hash": self._template_hash(),
            "bos": self.bos_handling(),
            # Kernels change between llama.cpp builds, and with them the last digits.
            "llama_cpp_python": llama_cpp.__version__,
        }
        return ModelIdentity(
            backend=self.name,
            model=self._alias.name if self._alias is not None else str(path),
            revision=f"sha256:{file_sha256(path)}",
            settings=settings,
        )

    def info(self) -> dict[str, Any]:
        import llama_cpp

        path = self._loaded_path()
        metadata = self._llm.metadata
        return {
            "model_path": str(path),
            "model_name": metadata.get("general.name"),
            "file_type": metadata.get("general.file_type"),
            "llama_cpp_python": llama_cpp.__version__,
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
            "device": "cpu",
            "threads": self._threads,
            "n_ctx": int(self._llm.n_ctx()),
            "n_batch": int(self._llm.n_batch),
            "prefix_reuse": self.options.prefix_reuse,
            "prompt_format": self._prompt_format,
            "chat_template_hash": self._template_hash(),
            "bos": self.bos_handling(),
            "example_prompt": self.render(_EXAMPLE),
        }

    def recommended_question_format(self) -> str | None:
        alias = get_alias(self.options.model or DEFAULT_MODEL)
        return alias.recommended_question_format if alias is not None else None

    def bos_handling(self) -> str:
        """Return how BOS reaches the model: ``none``, ``in_text`` or ``prepended``."""
        if not self._add_bos:
            return "none"
        text = self.render(_EXAMPLE).encode("utf-8")
        tokens = self._llm.tokenize(text, False, True)
        return "in_text" if tokens and tokens[0] == self._bos else "prepended"

    def _template_hash(self) -> str | None:
        return template_hash(self._template) if self._prompt_format == "chat" else None

    # Prompts ----------------------------------------------------------------------------

    def render(self, conversation: Conversation) -> str:
        """Return the prompt text: chat template or plain text, ending with the answer stem."""
        if self._prompt_format == "chat":
            assert self._template is not None
            try:
                return render_chat(
                    self._template,
                    conversation,
                    bos_token=self._bos_text,
                    eos_token=self._eos_text,
                )
            except Exception as error:  # any template failure is the model file's
                raise BackendError(
                    f"the chat template of {str(self._path)!r} failed to render: {error}; "
                    "use --prompt-format plain"
                ) from None
        return render_plain(conversation)

    def tokenize(self, text: str) -> list[int]:
        """Tokenise ``text``, parsing special tokens, with one BOS when the model wants one.

        A chat template that writes the BOS text itself already yields the BOS
        token, so it is added only when missing.
        """
        self._loaded_path()
        tokens = [int(token) for token in self._llm.tokenize(text.encode("utf-8"), False, True)]
        if self._add_bos and (not tokens or tokens[0] != self._bos):
            tokens.insert(0, self._bos)
        return tokens

    def candidate_tokens(self, prompt: str, prompt_tokens: list[int], candidate: str) -> list[int]:
        """Return the tokens of ``candidate`` as they follow ``prompt``.

        The prompt and the candidate are tokenised together and the tokens after
        the prompt's own are kept. When a token crosses the boundary, as after
        a stem ending in a space, the candidate is tokenised alone and must
        decode back to itself. The hf backend splits candidates by the same rule.
        """
        full = self.tokenize(prompt + candidate)
        if full[: len(prompt_tokens)] == prompt_tokens and len(full) > len(prompt_tokens):
            return full[len(prompt_tokens) :]

        alone = [int(t) for t in self._llm.tokenize(candidate.encode("utf-8"), False, True)]
        if not alone or self._detokenize(alone) != candidate:
            raise BackendError(
                f"candidate {candidate!r} cannot be split from the prompt into its own tokens "
                "with this tokenizer; end the answer stem without trailing whitespace"
            )
        return alone

    # Scoring ----------------------------------------------------------------------------

    def schedule(self, requests: Sequence[ScoreRequest]) -> Iterator[list[ScoreRequest]]:
        """Order requests by their prompt tokens, so prompts that share a prefix are adjacent.

        Sorting token sequences visits the prefix tree of the prompts depth
        first, so each shared prefix is evaluated once per run of neighbours.
        """
        self._loaded_path()
        keyed = [
            (self.tokenize(self.render(request.conversation)), request.key, request)
            for request in requests
        ]
        keyed.sort(key=lambda entry: (entry[0], entry[1]))
        ordered = [request for _, _, request in keyed]
        size = self.options.batch_size or 16
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self._loaded_path()
        scores = []
        for request in requests:
            if request.readout not in self.readouts:
                raise CapabilityError(
                    f"the llamacpp backend cannot compute the {request.readout.value!r} readout; "
                    f"it offers {', '.join(sorted(r.value for r in self.readouts))}"
                )
            prompt = self.render(request.conversation)
            prompt_tokens = self.tokenize(prompt)
            if not prompt_tokens:
                raise BackendError("the rendered prompt is empty; give the question some text")
            if request.readout is Readout.NEXT_TOKEN:
                scores.append(self._score_next_token(request, prompt, prompt_tokens))
            else:
                scores.append(self._score_continuation(request, prompt, prompt_tokens))
        return scores

    def _score_next_token(
        self, request: ScoreRequest, prompt: str, prompt_tokens: list[int]
    ) -> Score:
        candidate_ids = []
        for candidate in request.candidates:
            tokens = self.candidate_tokens(prompt, prompt_tokens, candidate)
            if len(tokens) != 1:
                pieces = [self._detokenize([token]) for token in tokens]
                raise BackendError(
                    f"candidate {candidate!r} is {len(tokens)} tokens {pieces} after the answer "
                    f"stem {request.conversation.answer_stem!r}; the next-token readout needs "
                    "one token per candidate: use --question-format cloze, which scores "
                    "whole answers"
                )
            candidate_ids.append(tokens[0])

        assert self._context is not None
        rows = self._context.logits(prompt_tokens, len(prompt_tokens) - 1)
        logprobs = log_softmax(rows[0])
        return Score(
            logprobs=tuple(float(logprobs[token]) for token in candidate_ids),
            readout=Readout.NEXT_TOKEN,
        )

    def _score_continuation(
        self, request: ScoreRequest, prompt: str, prompt_tokens: list[int]
    ) -> Score:
        candidate_ids = [
            self.candidate_tokens(prompt, prompt_tokens, candidate)
            for candidate in request.candidates
        ]
        assert self._context is not None
        values = []
        for tokens in candidate_ids:
            # The last prompt position predicts the first candidate token, and each
            # candidate token but the last predicts the next one.
            sequence = prompt_tokens + tokens[:-1]
            rows = self._context.logits(sequence, len(prompt_tokens) - 1)
            total = 0.0
            for row, token in zip(rows, tokens, strict=True):
                total += float(log_softmax(row)[token])
            values.append(total)
        return Score(
            logprobs=tuple(values),
            readout=Readout.CONTINUATION,
            token_counts=tuple(len(tokens) for tokens in candidate_ids),
        )

    def generate(self, conversation: Conversation, spec: GenerationSpec) -> list[str]:
        from ._sampling import sample_tokens

        if self._context is None or self._llm is None:
            raise BackendError("the llamacpp backend is not loaded; call load() first")
        prompt = self.tokenize(self.render(conversation))
        stop = {int(self._llm.token_eos())}
        eot = getattr(self._llm, "token_eot", None)
        if callable(eot) and int(eot()) >= 0:
            stop.add(int(eot()))
        samples = sample_tokens(self._context, prompt, spec, stop)
        return [self._detokenize(tokens) for tokens in samples]

    # Helpers ----------------------------------------------------------------------------

    def _loaded_path(self) -> Path:
        if self._llm is None or self._path is None:
            raise BackendError("the llamacpp backend is not loaded; call load() first")
        return self._path

    def _detokenize(self, tokens: list[int]) -> str:
        text: bytes = self._llm.detokenize(tokens, special=True)
        return text.decode("utf-8", "replace")


def _token_text(llama_cpp: Any, vocab: Any, token: int) -> str:
    if token < 0:
        return ""
    text: bytes = llama_cpp.llama_vocab_get_text(vocab, token)
    return text.decode("utf-8", "replace")
