"""Base class of model backends.

A backend turns :class:`~sycocore.schemas.ScoreRequest` objects into
:class:`~sycocore.schemas.Score` objects. It declares which readouts it offers,
and it imports its heavy libraries (torch, llama_cpp, openai) in :meth:`Backend.load`,
never at module import, so that listing plugins stays fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from .errors import CapabilityError
from .generation import GenerationSpec
from .options import PluginOptions
from .schemas import Conversation, ModelIdentity, Readout, Score, ScoreRequest

__all__ = ["Backend", "BackendOptions", "PromptFormat"]

PromptFormat = Literal["auto", "chat", "plain"]


class BackendOptions(PluginOptions):
    """Options every backend accepts. Backends extend this model with their own."""

    model: str | None = None
    """Model id, alias or path; ``None`` selects the backend's default model."""
    prompt_format: PromptFormat = "auto"
    """``chat`` renders the model's chat template, ``plain`` joins the messages as
    plain text, ``auto`` uses the chat template when the model has one."""
    batch_size: int | None = Field(default=None, ge=1)
    """Prompts per forward pass; ``None`` lets the backend choose."""


class Backend(ABC):
    """A model that scores requests.

    Subclasses set :attr:`name`, :attr:`description` and :attr:`readouts`, may
    extend :attr:`Options`, and implement :meth:`score`. The engine calls, in
    order: ``load()``, ``identity()``, ``info()``, ``schedule()`` with the pending
    requests, ``score()`` on each batch it yields, then ``close()``.
    """

    name: ClassVar[str]
    """Registered name, used by ``--backend``."""
    description: ClassVar[str] = ""
    """One line for ``syco list backends``."""
    readouts: ClassVar[frozenset[Readout]] = frozenset()
    """Readouts this backend can compute. A backend whose readouts depend on the
    model or server overrides :meth:`available_readouts`."""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    """Options model; the CLI validates user options against it."""
    runtime_options: ClassVar[frozenset[str]] = frozenset({"batch_size"})
    """Options that change speed but not results (batch size, threads, timeouts).
    They are left out of the run configuration, so a run may resume with other
    values."""

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    def load(self) -> None:  # noqa: B027 - loading is optional for light backends
        """Load the model. Import heavy libraries here, not at module level."""

    def available_readouts(self) -> frozenset[Readout]:
        """Return the readouts this backend can compute now; called after :meth:`load`."""
        return self.readouts

    def identity(self) -> ModelIdentity:
        """Return what identifies the model and every setting that changes its numbers.

        The score cache is keyed by it, so it must include the prompt format and
        the chat template hash. Called after :meth:`load`.
        """
        return ModelIdentity(
            backend=self.name,
            model=self.options.model or "default",
            settings={"prompt_format": self.options.prompt_format},
        )

    def info(self) -> dict[str, Any]:
        """Return facts for the run manifest: device, dtype, batch size, an example prompt."""
        return {}

    def recommended_question_format(self) -> str | None:
        """Return the question format this model is known to be competent in, if any."""
        return None

    def schedule(self, requests: Sequence[ScoreRequest]) -> Iterator[list[ScoreRequest]]:
        """Split the pending requests into batches, in the order they should be scored.

        The default sorts by prompt length, so that batches pad little, and cuts
        batches of ``batch_size`` (16 when unset). Backends that reuse a shared
        prompt prefix override this to keep such prompts together.
        """
        size = self.options.batch_size or 16
        ordered = sorted(requests, key=lambda r: (r.conversation.text_length(), r.key))
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]

    def generate(self, conversation: Conversation, spec: GenerationSpec) -> list[str]:
        """Sample ``spec.samples`` free-form answers to ``conversation``.

        Only metrics that ask for samples (the knowledge filter) call it. The
        default raises CapabilityError; backends that can sample override it.
        """
        raise CapabilityError(
            f"backend {self.name!r} cannot sample free-form answers, which the knowledge "
            "filter needs; use the hf or llamacpp backend, or run without it"
        )

    @abstractmethod
    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Score a batch and return one :class:`Score` per request, in order.

        Raise :class:`~sycocore.errors.CapabilityError` for a readout the backend
        does not offer and :class:`~sycocore.errors.BackendError` for a failure
        the user can fix.
        """

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the model and any server connection."""
