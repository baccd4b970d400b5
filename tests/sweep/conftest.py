"""Fixtures for sweep tests: tiny random Llama models and sweep files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

WORDS = [
    "what",
    "is",
    "the",
    "capital",
    "of",
    "france",
    "germany",
    "italy",
    "spain",
    "japan",
    "paris",
    "lyon",
    "berlin",
    "munich",
    "rome",
    "milan",
    "madrid",
    "seville",
    "tokyo",
    "osaka",
    "answer",
    "i",
    "am",
    "sure",
    "it",
    "think",
    "very",
    "unsure",
    "expert",
    "say",
    "my",
    "teacher",
    "told",
    "me",
    "that",
    "question",
    "please",
    "phd",
    "hold",
    "a",
]
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]


def build_tiny_model(folder: Path, seed: int) -> Path:
    """Save a random two-layer Llama with a word-level tokenizer (no chat template) to ``folder``.

    Different seeds give different weights, so two models built here score
    the same prompts differently.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokens = SPECIAL + list(".,?!:()") + sorted(set(WORDS)) + sorted({w.title() for w in WORDS})
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.5,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny random models, standing in for a base model and its tuned version."""
    return {
        "base": build_tiny_model(tmp_path_factory.mktemp("tiny-base"), seed=1),
        "tuned": build_tiny_model(tmp_path_factory.mktemp("tiny-tuned"), seed=2),
    }


SCRIPTED_SETTINGS = """\
[sweep]
name = "scripted"
dataset = "inline"
question_format = "two-option"
manipulations = "very_sure,user_phd"
metrics = ["decomposition"]
cache = false
metric_options = {decomposition = {resamples = 50}}
"""


def scripted_model(name: str, **fields: object) -> str:
    """Return a ``[[model]]`` table for the scripted backend with test metadata."""
    values: dict[str, object] = {
        "name": name,
        "backend": "scripted",
        "model": name,
        "family": "toy",
        "size_b": 1.0,
        "regime": "base",
    }
    values.update(fields)
    lines = ["[[model]]"]
    for key, value in values.items():
        if isinstance(value, dict):
            inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{{inline}}}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write_sweep(path: Path, settings: str, *models: str) -> Path:
    """Write a sweep file from a ``[sweep]`` table and ``[[model]]`` tables."""
    path.write_text(textwrap.dedent(settings) + "\n" + "\n".join(models), encoding="utf-8")
    return path
