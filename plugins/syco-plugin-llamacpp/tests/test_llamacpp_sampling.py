"""Free-form sampling of the llamacpp backend on the bundled SmolLM2 GGUF."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from syco_plugin_llamacpp.backend import LlamaCppBackend, LlamaCppOptions

from sycocore.generation import GenerationSpec, free_form_conversation
from sycocore.testing import SAMPLE_ITEMS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    loaded = LlamaCppBackend(LlamaCppOptions(threads=1))
    loaded.load()
    yield loaded
    loaded.close()


def test_greedy_answer_names_paris(backend: LlamaCppBackend) -> None:
    spec = GenerationSpec(samples=2, max_tokens=12, temperature=0.0)
    answers = backend.generate(free_form_conversation(SAMPLE_ITEMS[0]), spec)
    assert len(answers) == 2
    assert answers[0] == answers[1]
    assert "Paris" in answers[0]


def test_sampling_is_seeded(backend: LlamaCppBackend) -> None:
    conversation = free_form_conversation(SAMPLE_ITEMS[1])
    spec = GenerationSpec(samples=3, max_tokens=8, temperature=1.0, seed=5)
    first = backend.generate(conversation, spec)
    second = backend.generate(conversation, spec)
    assert first == second
    assert len(first) == 3


def test_sampling_leaves_scores_unchanged(backend: LlamaCppBackend) -> None:
    from sycocore.formats import ClozeFormat
    from sycocore.schemas import Case, ScoreRequest

    item = SAMPLE_ITEMS[0]
    formatted = ClozeFormat().format(Case(item=item, bait=item.baits[0]), "single")
    request = ScoreRequest(
        conversation=formatted.parts.to_conversation(),
        candidates=formatted.candidates,
        readout=ClozeFormat.readout,
    )
    before = backend.score([request])[0]
    backend.generate(free_form_conversation(item), GenerationSpec(samples=1, max_tokens=6))
    after = backend.score([request])[0]
    assert before.logprobs == after.logprobs
