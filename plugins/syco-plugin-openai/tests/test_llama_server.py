"""The openai backend against a real ``python -m llama_cpp.server`` serving SmolLM2-135M.

Log-probabilities read through the server are compared with the llamacpp
backend, which evaluates the same GGUF in process on the same rendered prompt.
Both run the same llama.cpp graph on the same tokens; the server computes the
log-softmax in float32 and the llamacpp backend in float64. Measured on 12
canary prompts (2-core CPU, llama-cpp-python 0.3.36): largest difference
2.3e-7 nats. The tolerance of 1e-4 nats leaves room for kernel rounding on
other CPUs and is still four orders of magnitude below any margin that matters.
"""

from __future__ import annotations

import pytest
from syco_plugin_openai import OpenAIBackend, OpenAIOptions
from syco_plugin_openai.canary import canary_requests
from syco_plugin_openai.readouts import completion_prompt

from sycocore.errors import BackendError
from sycocore.schemas import Readout

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4
"""Largest accepted difference in nats between server and in-process log-probabilities."""


def served_backend(server, **options) -> OpenAIBackend:
    values = {"base_url": server.url, "model": str(server.model_path), "timeout": 120.0}
    values.update(options)
    return OpenAIBackend(OpenAIOptions(**values))


def test_probe_picks_completions_logprobs(llama_server):
    backend = served_backend(llama_server, chat_template=llama_server.chat_template, canary=False)
    backend.load()
    try:
        info = backend.info()
    finally:
        backend.close()

    assert info["readout"] == "completions_logprobs"
    assert "does not continue the final assistant message" in info["probe"]["chat_logprobs"]
    assert info["chat_template_source"] == "the chat_template option"
    assert backend.available_readouts() == {Readout.NEXT_TOKEN, Readout.GENERATION}


def test_probe_without_template_generates(llama_server):
    backend = served_backend(llama_server, canary=False)
    backend.load()
    try:
        info = backend.info()
    finally:
        backend.close()

    assert info["readout"] == "generation"
    assert "no chat template" in info["probe"]["completions_logprobs"]
    assert backend.available_readouts() == {Readout.GENERATION}


def test_letter_logprobs_match_in_process(llama_server):
    from syco_plugin_llamacpp import LlamaCppBackend
    from syco_plugin_llamacpp.backend import LlamaCppOptions

    requests = canary_requests(Readout.NEXT_TOKEN)[:4]
    local = LlamaCppBackend(
        LlamaCppOptions(model=str(llama_server.model_path), prompt_format="chat")
    )
    remote = served_backend(llama_server, chat_template=llama_server.chat_template, canary=False)
    local.load()
    remote.load()
    try:
        local_scores = local.score(requests)
        remote_scores = remote.score(requests)
        prompts = [
            (completion_prompt(r.conversation, remote._plan), local.render(r.conversation))
            for r in requests
        ]
    finally:
        local.close()
        remote.close()

    for remote_prompt, local_prompt in prompts:
        assert remote_prompt == local_prompt
    for remote_score, local_score in zip(remote_scores, local_scores, strict=True):
        assert remote_score.readout is Readout.NEXT_TOKEN
        assert remote_score.bounded == ()
        for served, computed in zip(remote_score.logprobs, local_score.logprobs, strict=True):
            assert served == pytest.approx(computed, abs=TOLERANCE)


def test_generation_readout_parses(llama_server):
    backend = served_backend(
        llama_server, chat_template=llama_server.chat_template, readout="generation", canary=False
    )
    backend.load()
    try:
        scores = backend.score(canary_requests(Readout.GENERATION)[:4])
    finally:
        backend.close()

    for score in scores:
        assert score.readout is Readout.GENERATION
        assert score.logprobs == (None, None)
        assert score.generated_text
        assert score.unparsed is (score.choice is None)
    assert any(score.choice is not None for score in scores)


def test_canary_fails_on_smollm2(llama_server):
    backend = served_backend(llama_server, chat_template=llama_server.chat_template)

    with pytest.raises(BackendError, match="canary failed with the completions_logprobs") as caught:
        backend.load()
    backend.close()

    message = str(caught.value)
    assert "cannot be trusted" in message
    assert "-B canary=false" in message


def test_generate_samples_free_form_answers(llama_server):
    from sycocore.generation import GenerationSpec, free_form_conversation
    from sycocore.testing import SAMPLE_ITEMS

    backend = served_backend(llama_server, chat_template=llama_server.chat_template, canary=False)
    backend.load()
    try:
        conversation = free_form_conversation(SAMPLE_ITEMS[0])
        spec = GenerationSpec(samples=3, max_tokens=8, temperature=0.8, seed=1)
        first = backend.generate(conversation, spec)
        again = backend.generate(conversation, spec)
    finally:
        backend.close()

    assert len(first) == 3
    assert all(isinstance(answer, str) for answer in first)
    assert first == again
