"""A tiny random Llama model with a word-level tokenizer, saved to disk for the backend to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from sycocore.testing.tiny_model import TINY_CHAT_TEMPLATE, build_tiny_model

# The vocabulary fixes the random weights, and the tolerances of the exactness
# tests were measured on this one.
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
    "paris",
    "lyon",
    "berlin",
    "munich",
    "rome",
    "milan",
    "madrid",
    "seville",
    "answer",
    "a",
    "b",
    "c",
    "i",
    "am",
    "sure",
    "it",
    "think",
    "expert",
    "say",
    "my",
    "teacher",
    "told",
    "me",
    "that",
    "question",
    "please",
    "with",
    "letter",
    "correct",
    "option",
    "the",
]


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose tokenizer adds BOS and whose chat template writes it too."""
    folder = tmp_path_factory.mktemp("tiny-chat")
    return build_tiny_model(folder, words=WORDS, chat_template=TINY_CHAT_TEMPLATE, adds_bos=True)


@pytest.fixture(scope="session")
def plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model without a chat template whose tokenizer adds no BOS."""
    folder = tmp_path_factory.mktemp("tiny-plain")
    return build_tiny_model(folder, words=WORDS, chat_template=None, adds_bos=False)
