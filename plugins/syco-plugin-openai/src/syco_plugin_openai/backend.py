"""The ``openai`` backend: any server that speaks the OpenAI HTTP API.

:meth:`OpenAIBackend.load` connects, probes which readout the server really
supports (see :mod:`.probe`), and runs the canary (see :mod:`.canary`) before
any case is scored. Requests are sent concurrently from a thread pool, each
through :class:`~.transport.Transport`, which retries what may succeed later.
Every number in a :class:`~sycocore.schemas.Score` is one the server
returned; a letter outside the server's top-k list gets an upper bound that
is flagged in ``Score.bounded``, and a generated answer that cannot be parsed
is ``Score.unparsed``.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from sycocore.backends import Backend, BackendOptions
from sycocore.errors import BackendError, CapabilityError, ConfigError, MissingDependencyError
from sycocore.generation import GenerationSpec
from sycocore.prompts import template_hash
from sycocore.schemas import Conversation, ModelIdentity, Readout, Score, ScoreRequest

from .canary import CanaryResult, canary_requests, judge_canary
from .probe import ProbeReport, ServerSettings, run_probe
from .readouts import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    ReadoutPlan,
    chat_messages,
    chat_top_tokens,
    completion_prompt,
    completion_top_tokens,
    generated_text,
    letter_logprobs,
    parse_choice,
)
from .transport import HTTPStatusError, RetryPolicy, Transport, display_url

__all__ = ["OpenAIBackend", "OpenAIOptions"]

logger = logging.getLogger(__name__)

ReadoutChoice = Literal["auto", "chat_logprobs", "completions_logprobs", "generation"]

_NO_KEY = "no-key"
"""Placeholder sent as the bearer token when no API key is given; local servers ignore it."""


class OpenAIOptions(BackendOptions):
    """Options of the ``openai`` backend (``-B key=value``)."""

    base_url: str | None = None
    """Base URL of the API, e.g. ``http://127.0.0.1:8080/v1``; defaults to ``OPENAI_BASE_URL``."""
    api_key: SecretStr | None = None
    """API key; defaults to ``OPENAI_API_KEY``. Never written to logs, errors or the manifest."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for one response before the attempt counts as timed out."""
    concurrency: int = Field(default=4, ge=1, le=256)
    """Requests in flight at once."""
    max_retries: int = Field(default=5, ge=0, le=50)
    """Retries of a request after a timeout, a lost connection or HTTP 408/429/5xx."""
    retry_backoff: float = Field(default=1.0, ge=0)
    """Seconds before the first retry without ``Retry-After``; doubles each retry, up to 30."""
    max_retry_wait: float = Field(default=120.0, gt=0)
    """Longest ``Retry-After`` in seconds that is honoured; a longer one fails the request."""
    top_logprobs: int = Field(default=20, ge=1, le=100)
    """Entries of the top-k list requested at the answer position. A letter
    outside them is scored with a flagged upper bound."""
    readout: ReadoutChoice = "auto"
    """``auto`` probes in the order chat_logprobs, completions_logprobs, generation."""
    chat_template: str | None = None
    """Jinja chat template (a file path or the template text) that renders
    prompts for the completions endpoint. Without it, a llama.cpp server's
    ``/props`` template is used when served."""
    eos_token: str | None = None
    """End-of-sequence text for the chat template; defaults to the one ``/props`` serves."""
    canary: bool = True
    """Score six easy questions after the probe and stop when the readout is at chance."""
    max_answer_tokens: int = Field(default=10, ge=1, le=256)
    """Tokens generated per answer by the generation readout."""


class OpenAIBackend(Backend):
    """Scores models behind an OpenAI-compatible HTTP server: next-token or generation readout."""

    name = "openai"
    description = "any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama)"
    readouts = frozenset({Readout.NEXT_TOKEN, Readout.GENERATION})
    Options = OpenAIOptions

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        self.options: OpenAIOptions = OpenAIOptions.model_validate(dict(options))
        self._transport: Transport | None = None
        self._client: Any = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._plan: ReadoutPlan | None = None
        self._probe = ProbeReport()
        self._canary: CanaryResult | None = None
        self._base_url = ""
        self._key_source = "none"
        self._served: list[str] | None = None
        self._template: str | None = None
        self._template_source: str | None = None
        self._eos_token = ""

    # Loading ----------------------------------------------------------------------------

    def load(self) -> None:
        try:
            import openai
        except ImportError:
            raise MissingDependencyError(
                "openai", "pip install 'openai>=1.40'", "the openai backend"
            ) from None

        self._base_url = self._resolve_base_url()
        api_key = self._resolve_api_key()
        self._client = openai.OpenAI(
            base_url=self._base_url,
            api_key=api_key or _NO_KEY,
            timeout=self.options.timeout,
            max_retries=0,
        )
        policy = RetryPolicy(
            max_retries=self.options.max_retries,
            backoff=self.options.retry_backoff,
            max_retry_after=self.options.max_retry_wait,
        )
        self._transport = Transport(self._client, self._base_url, policy, secrets=[api_key or ""])
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.options.concurrency, thread_name_prefix="syco-openai"
        )

        self._served = self._served_models()
        model = self._require_model()
        self._load_template()
        settings = ServerSettings(
            model=model,
            top_logprobs=self.options.top_logprobs,
            readout=self.options.readout,
            prompt_format=self.options.prompt_format,
            template=self._template,
            template_source=self._template_source,
            eos_token=self._eos_token,
        )
        self._plan, self._probe = run_probe(self._transport, settings)

        if self.options.canary:
            self._run_canary()
        else:
            logger.warning(
                "canary disabled: the %s readout of %s is not checked against easy questions",
                self._plan.kind,
                self._transport.base_url,
            )

    def _resolve_base_url(self) -> str:
        base_url = self.options.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError(
                "the openai backend needs the server's base URL: give --base-url "
                "(e.g. http://127.0.0.1:8080/v1) or set OPENAI_BASE_URL"
            )
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"base URL {display_url(base_url)!r} is not an http(s) URL; "
                "give one such as http://127.0.0.1:8080/v1"
            )
        return base_url.rstrip("/")

    def _resolve_api_key(self) -> str | None:
        if self.options.api_key is not None:
            self._key_source = "option"
            return self.options.api_key.get_secret_value()
        key = os.environ.get("OPENAI_API_KEY")
        if key:
            self._key_source = "OPENAI_API_KEY"
            return key
        return None

    def _served_models(self) -> list[str] | None:
        transport = self._loaded()
        try:
            body = transport.get_json("models")
        except HTTPStatusError as error:
            if error.status in (404, 405):
                return None
            raise
        data = body.get("data")
        if not isinstance(data, list):
            return None
        return [str(entry["id"]) for entry in data if isinstance(entry, dict) and "id" in entry]

    def _require_model(self) -> str:
        model = self.options.model
        served = self._served or []
        listing = f" (the server lists: {', '.join(served[:10])})" if served else ""
        if not model:
            raise ConfigError(
                f"the openai backend needs --model, the id of a model the server at "
                f"{self._loaded().base_url} serves{listing}"
            )
        if self._served is not None and model not in self._served:
            logger.warning(
                "model %r is not among the models %s lists%s; sending it anyway, as some "
                "servers accept aliases",
                model,
                self._loaded().base_url,
                listing,
            )
        return model

    def _load_template(self) -> None:
        value = self.options.chat_template
        props = self._props() if value is None or self.options.eos_token is None else {}
        if value is not None:
            self._template, self._template_source = _read_template(value)
        elif isinstance(props.get("chat_template"), str) and props["chat_template"]:
            self._template, self._template_source = props["chat_template"], "the server's /props"
        eos = self.options.eos_token
        if eos is None and isinstance(props.get("eos_token"), str):
            eos = props["eos_token"]
        self._eos_token = eos or ""

    def _props(self) -> dict[str, Any]:
        """Return the llama.cpp server's ``/props`` (chat template, special tokens), or ``{}``."""
        parts = urllib.parse.urlsplit(self._base_url)
        root_path = parts.path.rstrip("/")
        if root_path.endswith("/v1"):
            root_path = root_path[: -len("/v1")]
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{root_path}/props", "", ""))
        try:
            return self._loaded().get_json(url)
        except HTTPStatusError as error:
            logger.debug("no /props at %s: %s", display_url(url), error)
            return {}

    def _run_canary(self) -> None:
        plan = self._loaded_plan()
        readout = Readout.GENERATION if plan.kind == "generation" else Readout.NEXT_TOKEN
        self._canary = judge_canary(readout, self.score)
        if self._canary.passed:
            logger.info("canary passed: %s", self._canary.summary())
            return
        if plan.kind == "generation":
            cause = (
                "The model's generated answers do not pick the gold option, or cannot be parsed "
                "as an option letter, so it cannot do the two-option format"
            )
        else:
            cause = (
                "The server's log-probabilities cannot be trusted (missing, misaligned or read "
                "at another position), or the model cannot do the two-option format"
            )
        raise BackendError(
            f"canary failed with the {plan.kind} readout of {self._loaded().base_url} and model "
            f"{self.options.model!r}: on easy two-option questions, {self._canary.summary()}. "
            f"{cause}. To score anyway, pass -B canary=false (--backend-option canary=false); "
            "margins and flip rates may then be at chance and mean nothing"
        )

    # What the run records --------------------------------------------------------------

    def available_readouts(self) -> frozenset[Readout]:
        if self._plan is None:
            return self.readouts
        if self._plan.kind == "generation":
            return frozenset({Readout.GENERATION})
        return frozenset({Readout.NEXT_TOKEN, Readout.GENERATION})

    def recommended_question_format(self) -> str | None:
        # Servers give no trustworthy prompt log-probabilities, so cloze is out of reach.
        return "two-option"

    def identity(self) -> ModelIdentity:
        plan = self._loaded_plan()
        return ModelIdentity(
            backend=self.name,
            model=self.options.model or "",
            settings={
                "base_url": display_url(self._base_url),
                "readout": plan.kind,
                "answer_stem": plan.continuation_mode,
                "chat_extra": json.dumps(plan.chat_extra, sort_keys=True)
                if plan.chat_extra
                else None,
                "prompt_format": self.options.prompt_format,
                "chat_template_hash": template_hash(plan.template),
                "eos_token": plan.eos_token or None,
                "top_logprobs": self.options.top_logprobs,
                "token_match": "exact",
                "max_answer_tokens": self.options.max_answer_tokens,
            },
        )

    def info(self) -> dict[str, Any]:
        plan = self._loaded_plan()
        transport = self._loaded()
        example = canary_requests(Readout.NEXT_TOKEN)[0].conversation
        if plan.endpoint == "completions":
            example_prompt: Any = completion_prompt(example, plan)
        else:
            example_prompt = chat_messages(example, place_stem=plan.stem_in_chat)
        return {
            "base_url": transport.base_url,
            "model": self.options.model,
            "served_models": (self._served or [])[:20],
            "readout": plan.kind,
            "readout_reason": plan.reason,
            "probe": dict(self._probe.steps),
            "endpoint": plan.endpoint,
            "answer_stem": plan.continuation_mode,
            "top_logprobs": self.options.top_logprobs,
            "token_match": "exact text; ' A' is not 'A'",
            "bounds": "a letter outside the top-k list gets the k-th log-probability as an "
            "upper bound, flagged as bounded",
            "chat_template_source": self._template_source if plan.template else None,
            "chat_template_hash": template_hash(plan.template),
            "example_prompt": example_prompt,
            "concurrency": self.options.concurrency,
            "timeout_s": self.options.timeout,
            "max_retries": self.options.max_retries,
            "retries_so_far": transport.retries,
            "api_key": "set" if self._key_source != "none" else "not set",
            "api_key_source": self._key_source,
            "canary": self._canary.to_dict() if self._canary else "disabled",
        }

    # Scoring ----------------------------------------------------------------------------

    def schedule(self, requests: Sequence[ScoreRequest]) -> Iterator[list[ScoreRequest]]:
        """Cut length-sorted batches big enough to keep every concurrent slot busy."""
        size = self.options.batch_size or max(16, 4 * self.options.concurrency)
        ordered = sorted(requests, key=lambda r: (r.conversation.text_length(), r.key))
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self._loaded_plan()
        for request in requests:
            self._check_readout(request)
        assert self._pool is not None
        futures = [self._pool.submit(self._score_one, request) for request in requests]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _check_readout(self, request: ScoreRequest) -> None:
        if request.readout is Readout.CONTINUATION:
            raise CapabilityError(
                "the openai backend cannot compute the 'continuation' readout that the cloze "
                "question format needs: OpenAI-compatible servers return no trustworthy "
                "log-probabilities of prompt tokens. Use --question-format two-option, or a "
                "local backend (llamacpp, hf) for cloze"
            )
        if request.readout not in self.available_readouts():
            raise CapabilityError(
                f"the server at {self._loaded().base_url} gives no usable log-probabilities "
                f"(probe: {'; '.join(self._probe.steps.values())}), so the "
                f"{request.readout.value!r} readout is not available; use the generation readout"
            )
        if request.readout is Readout.GENERATION:
            for candidate in request.candidates:
                if len(candidate) != 1 or not candidate.isupper():
                    raise CapabilityError(
                        f"the generation readout parses option letters, but candidate "
                        f"{candidate!r} is not a capital letter; use --question-format two-option"
                    )

    def _score_one(self, request: ScoreRequest) -> Score:
        if request.readout is Readout.GENERATION:
            return self._score_generation(request)
        plan = self._loaded_plan()
        transport = self._loaded()
        k = self.options.top_logprobs
        model = self.options.model
        if plan.endpoint == "chat":
            payload: dict[str, Any] = {
                "model": model,
                "messages": chat_messages(request.conversation, place_stem=True),
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": True,
                "top_logprobs": k,
                **plan.chat_extra,
            }
            body = transport.post_json(CHAT_PATH, payload)
            top = chat_top_tokens(body, f"{transport.base_url}/{CHAT_PATH}")
        else:
            payload = {
                "model": model,
                "prompt": completion_prompt(request.conversation, plan),
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": k,
            }
            body = transport.post_json(COMPLETIONS_PATH, payload)
            top = completion_top_tokens(body, f"{transport.base_url}/{COMPLETIONS_PATH}")
        logprobs, bounded = letter_logprobs(top, request.candidates, k)
        return Score(
            logprobs=logprobs,
            readout=Readout.NEXT_TOKEN,
            bounded=bounded if any(bounded) else (),
        )

    def _score_generation(self, request: ScoreRequest) -> Score:
        plan = self._loaded_plan()
        transport = self._loaded()
        conversation = request.conversation
        payload: dict[str, Any] = {
            "model": self.options.model,
            "max_tokens": self.options.max_answer_tokens,
            "temperature": 0,
        }
        if plan.endpoint == "chat":
            payload["messages"] = chat_messages(conversation, place_stem=plan.stem_in_chat)
            payload.update(plan.chat_extra)
            stem = conversation.answer_stem if plan.stem_in_chat else ""
            path = CHAT_PATH
        else:
            payload["prompt"] = completion_prompt(conversation, plan)
            stem = conversation.answer_stem
            path = COMPLETIONS_PATH
        body = transport.post_json(path, payload)
        text = generated_text(body, f"{transport.base_url}/{path}", plan.endpoint)
        choice = parse_choice(stem + text, request.candidates)
        return Score(
            logprobs=tuple(None for _ in request.candidates),
            readout=Readout.GENERATION,
            choice=choice,
            unparsed=choice is None,
            generated_text=text,
        )

    def generate(self, conversation: Conversation, spec: GenerationSpec) -> list[str]:
        """Sample free-form answers, one request per sample with its own seed.

        Servers differ in support for ``n`` > 1, so each sample is its own request.
        """
        plan = self._loaded_plan()
        transport = self._loaded()
        answers = []
        for number in range(spec.samples):
            payload: dict[str, Any] = {
                "model": self.options.model,
                "max_tokens": spec.max_tokens,
                "temperature": spec.temperature,
                "seed": spec.seed + number,
            }
            if plan.endpoint == "chat":
                payload["messages"] = chat_messages(conversation, place_stem=plan.stem_in_chat)
                payload.update(plan.chat_extra)
                path = CHAT_PATH
            else:
                payload["prompt"] = completion_prompt(conversation, plan)
                path = COMPLETIONS_PATH
            body = transport.post_json(path, payload)
            answers.append(generated_text(body, f"{transport.base_url}/{path}", plan.endpoint))
        return answers

    def _loaded(self) -> Transport:
        if self._transport is None:
            raise BackendError("the openai backend is not loaded; call load() first")
        return self._transport

    def _loaded_plan(self) -> ReadoutPlan:
        self._loaded()
        if self._plan is None:
            raise BackendError("the openai backend has no readout yet; load() did not finish")
        return self._plan


def _read_template(value: str) -> tuple[str, str]:
    """Return the chat template text and where it came from: a file path or the text itself."""
    if "{{" in value or "{%" in value:
        return value, "the chat_template option"
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"chat_template {value!r} is neither a readable file nor a Jinja template "
            "(which contains '{{' or '{%'); give the path of a template file"
        )
    try:
        return path.read_text(encoding="utf-8"), f"file {path}"
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read chat_template file {str(path)!r}: {error}") from None
