"""The ``hf`` backend: Hugging Face transformers models scored with torch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from sycocore.backends import Backend, BackendOptions
from sycocore.errors import BackendError, CapabilityError
from sycocore.generation import GenerationSpec
from sycocore.schemas import Conversation, ModelIdentity, Readout, Score, ScoreRequest

from .forward import (
    TREE_ATTENTION,
    LogProbs,
    TokenSequence,
    forward_padded,
    forward_token_tree,
    shared_length,
    split_by_nodes,
    weakest_cut,
)
from .loading import LoadedModel, file_sha256, load_model
from .options import HFOptions
from .rendering import EXAMPLE_CONVERSATION, PreparedRequest, PromptRenderer

__all__ = ["HFBackend"]

logger = logging.getLogger(__name__)

_AUTO_BATCH_CUDA = 64
_AUTO_BATCH_OTHER = 32

# Most nodes of one token tree. Tree attention is dense, so its cost grows with
# the square of the node count, while each forward pass reads all the weights
# once. On 2 CPU cores, one question's 28 two-option prompts ran as fast in two
# trees of about 350 nodes as in one of about 700, and slower in four.
_TREE_NODES_CPU = 512
# NOTE: not measured on a GPU. At 2048 nodes the boolean mask takes 4 MiB.
_TREE_NODES_CUDA = 2048

# Largest difference between the token-tree and the padded log-probabilities
# that the start-up check accepts. Both compute the same function, so only the
# summation order differs. A mask that the model ignores or misreads changes
# what each token attends to, which moves log-probabilities far more.
_TREE_TOLERANCE_FLOAT32 = 1e-3
_TREE_TOLERANCE_HALF = 0.25


class HFBackend(Backend):
    """Scores prompts with a transformers causal language model.

    The next-token readout runs each prompt once and reads the full-vocabulary
    log-softmax at its last position. The continuation readout sums the
    log-probabilities of a candidate's tokens after the prompt.
    """

    name = "hf"
    description = "Hugging Face transformers + torch (model id, local folder or GGUF file)"
    readouts = frozenset({Readout.NEXT_TOKEN, Readout.CONTINUATION})
    Options: ClassVar[type[BackendOptions]] = HFOptions

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        self.options: HFOptions = (
            options if isinstance(options, HFOptions) else HFOptions(**options.model_dump())
        )
        self._loaded: LoadedModel | None = None
        self._renderer: PromptRenderer | None = None
        self._prepared: dict[str, PreparedRequest] = {}
        self._batch_size = self.options.batch_size or _AUTO_BATCH_OTHER
        self._revision: str | None = None
        self._tree_nodes = _TREE_NODES_CPU
        self._window: int | None = None
        self._reuse = "off: prefix_reuse is false"

    def load(self) -> None:
        """Load the tokenizer and model, and check the prompt format against the template."""
        if self._loaded is not None:
            return
        loaded = load_model(self.options)
        self._renderer = PromptRenderer(
            loaded.tokenizer, self.options.prompt_format, loaded.source.label
        )
        if self.options.batch_size is None:
            auto = _AUTO_BATCH_CUDA if loaded.device.type == "cuda" else _AUTO_BATCH_OTHER
            self._batch_size = auto
        self._loaded = loaded
        if loaded.device.type == "cuda":
            self._tree_nodes = _TREE_NODES_CUDA
        if self.options.prefix_reuse:
            self._reuse = self._check_token_tree()

    @property
    def loaded(self) -> LoadedModel:
        """The loaded model; raises when :meth:`load` has not run."""
        if self._loaded is None:
            raise BackendError("the hf backend is not loaded; call load() first")
        return self._loaded

    @property
    def renderer(self) -> PromptRenderer:
        """The prompt renderer of the loaded tokenizer."""
        if self._renderer is None:
            raise BackendError("the hf backend is not loaded; call load() first")
        return self._renderer

    def identity(self) -> ModelIdentity:
        loaded = self.loaded
        return ModelIdentity(
            backend=self.name,
            model=loaded.source.label,
            revision=self._weights_revision(),
            settings={
                "dtype": str(loaded.dtype).removeprefix("torch."),
                "device_type": loaded.device.type,
                "prompt_format": self.renderer.format,
                "chat_template_hash": self.renderer.template_hash,
                "bos": self.renderer.bos_handling(),
                "gguf_file": loaded.source.gguf_file,
                "trust_remote_code": self.options.trust_remote_code,
            },
        )

    def info(self) -> dict[str, Any]:
        loaded = self.loaded
        return {
            "device": str(loaded.device),
            "dtype": str(loaded.dtype).removeprefix("torch."),
            "batch_size": self._batch_size,
            "batch_size_automatic": self.options.batch_size is None,
            "prompt_format": self.renderer.format,
            "chat_template_hash": self.renderer.template_hash,
            "bos": self.renderer.bos_handling(),
            "prefix_reuse": self._reuse,
            "example_prompt": self.renderer.render(EXAMPLE_CONVERSATION),
            "transformers_class": type(loaded.model).__name__,
        }

    def recommended_question_format(self) -> str | None:
        source = self._loaded.source if self._loaded is not None else None
        if source is not None and source.alias is not None:
            return source.alias.recommended_question_format
        from sycocore.models import DEFAULT_MODEL, get_alias

        alias = get_alias(self.options.model or DEFAULT_MODEL)
        return alias.recommended_question_format if alias is not None else None

    def schedule(self, requests: Sequence[ScoreRequest]) -> Iterator[list[ScoreRequest]]:
        """Batch requests so that each batch shares a long prompt prefix.

        Prompts are sorted by their token ids, which visits the prefix tree of
        the prompts depth first: the prompts of one question, and within it the
        prompts of one option order, become neighbours. A batch holds up to
        ``batch_size`` sequences. When the next prompts do not fit, the batch is
        cut between the two neighbours in its second half that share the fewest
        tokens, so a batch ends where a question (or an option order) ends.
        Without prefix reuse, prompts are sorted by token count.
        """
        prepared = [(request, self._prepare(request)) for request in requests]
        if not self.options.prefix_reuse:
            prepared.sort(key=lambda pair: (len(pair[1].prompt), pair[0].key))
        else:
            prepared.sort(key=lambda pair: pair[1].prompt)
        counts = [len(item.sequences(request.readout)) for request, item in prepared]

        start = 0
        while start < len(prepared):
            end, used = start, 0
            while end < len(prepared) and (end == start or used + counts[end] <= self._batch_size):
                used += counts[end]
                end += 1
            if end < len(prepared) and self.options.prefix_reuse:
                end = weakest_cut(
                    start,
                    end,
                    lambda cut: shared_length(prepared[cut - 1][1].prompt, prepared[cut][1].prompt),
                )
            yield [request for request, _ in prepared[start:end]]
            start = end

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Score a batch; see :class:`HFBackend` for the readouts."""
        for request in requests:
            if request.readout not in self.readouts:
                raise CapabilityError(
                    f"the hf backend cannot compute the {request.readout.value!r} readout; "
                    "it offers next_token and continuation"
                )
        prepared = [self._take_prepared(request) for request in requests]

        sequences = [
            sequence
            for request, item in zip(requests, prepared, strict=True)
            for sequence in item.sequences(request.readout)
        ]

        results = self._run(sequences)

        scores: list[Score] = []
        cursor = 0
        for request, item in zip(requests, prepared, strict=True):
            if request.readout is Readout.NEXT_TOKEN:
                values = results[cursor][0]
                cursor += 1
                scores.append(Score(logprobs=tuple(values), readout=request.readout))
                continue
            sums = []
            for _ in item.candidates:
                sums.append(sum(position[0] for position in results[cursor]))
                cursor += 1
            scores.append(
                Score(
                    logprobs=tuple(sums),
                    readout=request.readout,
                    token_counts=tuple(len(tokens) for tokens in item.candidates),
                )
            )
        return scores

    def generate(self, conversation: Conversation, spec: GenerationSpec) -> list[str]:
        from .sampling import sample_answers

        return sample_answers(self.loaded, self.renderer, conversation, spec)

    def close(self) -> None:
        self._loaded = None
        self._renderer = None
        self._prepared.clear()

    def _prepare(self, request: ScoreRequest, keep: bool = True) -> PreparedRequest:
        item = self.renderer.prepare(request)
        if keep:
            self._prepared[request.key] = item
        return item

    def _take_prepared(self, request: ScoreRequest) -> PreparedRequest:
        item = self._prepared.pop(request.key, None)
        return item if item is not None else self._prepare(request, keep=False)

    def _run(self, sequences: list[TokenSequence]) -> list[LogProbs]:
        if self._reuse == "token tree":
            return self._run_in_chunks(sequences, self._run_trees)
        model, pad_id = self.loaded.model, self._pad_id()
        return self._run_in_chunks(sequences, lambda chunk: forward_padded(model, chunk, pad_id))

    def _run_trees(self, sequences: list[TokenSequence]) -> list[LogProbs]:
        """Run ``sequences`` as token trees of at most ``_tree_nodes`` nodes each.

        A sequence longer than the model's sliding attention window runs padded,
        because the tree's mask replaces the window's.
        """
        model, pad_id = self.loaded.model, self._pad_id()
        results: list[LogProbs] = [[] for _ in sequences]
        for indices in split_by_nodes(sequences, self._tree_nodes):
            part = [sequences[index] for index in indices]
            if self._window is not None and max(len(s.ids) for s in part) > self._window:
                values = forward_padded(model, part, pad_id)
            else:
                values = forward_token_tree(model, part)
            for index, value in zip(indices, values, strict=True):
                results[index] = value
        return results

    def _check_token_tree(self) -> str:
        """Return ``token tree`` when batches can run as token trees, else ``off: REASON``.

        The tree needs an attention implementation that applies a custom 4D
        mask as given. It must also give what padded batches give: three
        sequences built from the example prompt, two sharing its first half,
        are scored both ways and compared.
        """
        loaded = self.loaded
        config = loaded.model.config
        attention = getattr(config, "_attn_implementation", None)
        if attention not in TREE_ATTENTION:
            return f"off: attention implementation {attention!r} takes no token-tree mask"
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        window = getattr(text_config, "sliding_window", None)
        self._window = window if isinstance(window, int) and window > 0 else None

        ids = tuple(self.renderer.encode(self.renderer.render(EXAMPLE_CONVERSATION)))
        half = len(ids) // 2
        targets = (tuple(sorted(set(ids[:2]))),)
        probe = [
            TokenSequence(ids, targets),
            TokenSequence(ids[:half] + ids[half:][::-1], targets),
            TokenSequence(ids[:half], targets),
        ]
        try:
            tree = forward_token_tree(loaded.model, probe)
        except Exception as error:  # any failure turns reuse off, with the reason recorded
            lines = str(error).splitlines()
            reason = f"{type(error).__name__}: {lines[0] if lines else ''}"
            logger.warning(
                "token-tree scoring failed for %s (%s); scoring without prefix reuse",
                loaded.source.label,
                reason,
            )
            return f"off: the token-tree forward pass failed ({reason})"
        padded = forward_padded(loaded.model, probe, self._pad_id())
        difference = max(
            abs(a - b)
            for tree_values, padded_values in zip(tree, padded, strict=True)
            for a, b in zip(tree_values[0], padded_values[0], strict=True)
        )
        float32 = str(loaded.dtype) == "torch.float32"
        tolerance = _TREE_TOLERANCE_FLOAT32 if float32 else _TREE_TOLERANCE_HALF
        if difference > tolerance:
            logger.warning(
                "token-tree scoring differs from padded batches by %.3g for %s; "
                "scoring without prefix reuse",
                difference,
                loaded.source.label,
            )
            return f"off: token-tree check differed by {difference:.3g}"
        return "token tree"

    def _run_in_chunks(
        self,
        sequences: list[TokenSequence],
        runner: Callable[[list[TokenSequence]], list[LogProbs]],
    ) -> list[LogProbs]:
        import torch

        results: list[LogProbs] = []
        start = 0
        while start < len(sequences):
            size = self._batch_size
            chunk = sequences[start : start + size]
            try:
                results.extend(runner(chunk))
            except torch.cuda.OutOfMemoryError:
                if self.options.batch_size is not None or size == 1:
                    raise BackendError(
                        f"the GPU ran out of memory at batch size {size}; "
                        "pass a smaller --batch-size or leave it unset to back off automatically"
                    ) from None
                torch.cuda.empty_cache()
                self._batch_size = max(1, size // 2)
                logger.warning(
                    "CUDA out of memory at batch size %d; retrying at %d", size, self._batch_size
                )
                continue
            start += len(chunk)
        return results

    def _pad_id(self) -> int:
        tokenizer = self.loaded.tokenizer
        for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
            if isinstance(candidate, int):
                return candidate
        return 0

    def _weights_revision(self) -> str | None:
        if self._revision is not None:
            return self._revision
        source = self.loaded.source
        if not source.local:
            commit = getattr(self.loaded.model.config, "_commit_hash", None)
            self._revision = self.options.revision or commit
            return self._revision
        files = source.weight_files()
        if not files:
            return None
        digests = [f"{path.name}:{file_sha256(path)}" for path in files]
        if len(digests) == 1:
            self._revision = "sha256:" + digests[0].split(":", 1)[1]
        else:
            from sycocore.schemas import sha256_hex

            self._revision = "sha256:" + sha256_hex("\n".join(digests))
        return self._revision
