"""Prompt rendering, BOS handling and candidate tokens of the hf backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.errors import BackendError, ConfigError
from sycocore.prompts import render_chat, render_plain, template_hash
from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

CONVERSATION = Conversation(
    messages=(
        Message(role="system", content="Answer the question."),
        Message(role="user", content="What is the capital of France?"),
    ),
    answer_stem="The capital of France is",
)


def make_backend(folder: Path, prompt_format: str = "auto") -> HFBackend:
    backend = HFBackend(HFOptions(model=str(folder), prompt_format=prompt_format, threads=1))  # type: ignore[arg-type]
    backend.load()
    return backend


def test_auto_format_uses_chat_template(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)
    template = backend.loaded.tokenizer.chat_template

    text = backend.renderer.render(CONVERSATION)

    assert backend.renderer.format == "chat"
    assert text == render_chat(template, CONVERSATION, bos_token="<s>", eos_token="</s>")
    assert text.endswith("<|assistant|> The capital of France is")
    assert backend.identity().settings["chat_template_hash"] == template_hash(template)


def test_plain_format_ignores_template(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir, prompt_format="plain")

    text = backend.renderer.render(CONVERSATION)

    assert backend.renderer.format == "plain"
    assert text == render_plain(CONVERSATION)
    assert backend.identity().settings["chat_template_hash"] is None


def test_auto_without_template_is_plain(plain_model_dir: Path) -> None:
    backend = make_backend(plain_model_dir)

    assert backend.renderer.format == "plain"
    assert backend.renderer.render(CONVERSATION) == render_plain(CONVERSATION)


def test_chat_without_template_is_rejected(plain_model_dir: Path) -> None:
    backend = HFBackend(HFOptions(model=str(plain_model_dir), prompt_format="chat"))

    with pytest.raises(ConfigError, match="has none"):
        backend.load()


def test_bos_written_by_template_not_doubled(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)
    bos = backend.loaded.tokenizer.bos_token_id

    ids = backend.renderer.encode(backend.renderer.render(CONVERSATION))

    assert ids[0] == bos
    assert ids.count(bos) == 1
    assert backend.renderer.bos_handling() == "in_text"


def test_bos_prepended_in_plain_format(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir, prompt_format="plain")
    bos = backend.loaded.tokenizer.bos_token_id

    ids = backend.renderer.encode(backend.renderer.render(CONVERSATION))

    assert ids[0] == bos
    assert ids.count(bos) == 1
    assert backend.renderer.bos_handling() == "prepended"


def test_no_bos_when_tokenizer_adds_none(plain_model_dir: Path) -> None:
    backend = make_backend(plain_model_dir)
    bos = backend.loaded.tokenizer.bos_token_id

    ids = backend.renderer.encode(backend.renderer.render(CONVERSATION))

    assert bos not in ids
    assert backend.renderer.bos_handling() == "none"


def test_info_shows_example_prompt(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)

    info = backend.info()

    assert info["example_prompt"].startswith("<s><|user|> What is the capital of France?")
    assert info["dtype"] == "float32"
    assert info["device"] == "cpu"
    assert info["bos"] == "in_text"


def test_identity_hashes_weights_file(chat_model_dir: Path) -> None:
    import hashlib

    backend = make_backend(chat_model_dir)
    expected = hashlib.sha256((chat_model_dir / "model.safetensors").read_bytes()).hexdigest()

    identity = backend.identity()

    assert identity.revision == f"sha256:{expected}"
    assert identity.settings["prompt_format"] == "chat"
    assert identity.settings["dtype"] == "float32"


def test_multi_token_letter_is_rejected(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)
    request = ScoreRequest(
        conversation=CONVERSATION, candidates=("Paris", "Lyon Rome"), readout=Readout.NEXT_TOKEN
    )

    with pytest.raises(BackendError, match="'Lyon Rome' is 2 tokens"):
        backend.score([request])


def test_generation_readout_is_rejected(chat_model_dir: Path) -> None:
    from sycocore.errors import CapabilityError

    backend = make_backend(chat_model_dir)
    request = ScoreRequest(
        conversation=CONVERSATION, candidates=(" Paris", " Lyon"), readout=Readout.GENERATION
    )

    with pytest.raises(CapabilityError, match="generation"):
        backend.score([request])
