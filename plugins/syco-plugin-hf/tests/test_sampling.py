"""Free-form sampling of the hf backend on the tiny random model."""

from __future__ import annotations

from pathlib import Path

from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.generation import GenerationSpec, free_form_conversation
from sycocore.testing import SAMPLE_ITEMS


def _backend(model_dir: Path) -> HFBackend:
    backend = HFBackend(HFOptions(model=str(model_dir), threads=1))
    backend.load()
    return backend


def test_generate_returns_requested_samples(chat_model_dir: Path) -> None:
    backend = _backend(chat_model_dir)
    spec = GenerationSpec(samples=4, max_tokens=5, temperature=1.0, seed=3)
    answers = backend.generate(free_form_conversation(SAMPLE_ITEMS[0]), spec)
    assert len(answers) == 4
    assert all(isinstance(answer, str) for answer in answers)


def test_generate_same_seed_same_answers(chat_model_dir: Path) -> None:
    backend = _backend(chat_model_dir)
    spec = GenerationSpec(samples=3, max_tokens=5, temperature=1.0, seed=11)
    conversation = free_form_conversation(SAMPLE_ITEMS[1])
    assert backend.generate(conversation, spec) == backend.generate(conversation, spec)


def test_generate_greedy_repeats_one_answer(chat_model_dir: Path) -> None:
    backend = _backend(chat_model_dir)
    spec = GenerationSpec(samples=3, max_tokens=5, temperature=0.0)
    answers = backend.generate(free_form_conversation(SAMPLE_ITEMS[2]), spec)
    assert len(set(answers)) == 1
    assert len(answers) == 3
