"""A tiny random Llama model with a word-level tokenizer, saved to disk for the backend to load."""

from __future__ import annotations

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
PUNCTUATION = ["?", ":", "(", ")", ".", ",", "!"]
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|system|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|> "
    "{{ message['content'] }} {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def build_tiny_model(folder: Path, *, chat_template: str | None, adds_bos: bool) -> Path:
    """Save a random two-layer Llama and a word-level tokenizer into ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokens = (
        SPECIAL + PUNCTUATION + sorted(set(WORDS)) + [w.capitalize() for w in sorted(set(WORDS))]
    )
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if adds_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|user|>", "<|system|>", "<|assistant|>"],
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(folder)

    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        # A wide initialisation makes the next-token distribution far from
        # uniform, so a wrong position or mask changes the numbers visibly.
        initializer_range=0.5,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose tokenizer adds BOS and whose chat template writes it too."""
    folder = tmp_path_factory.mktemp("tiny-chat")
    return build_tiny_model(folder, chat_template=CHAT_TEMPLATE, adds_bos=True)


@pytest.fixture(scope="session")
def plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model without a chat template whose tokenizer adds no BOS."""
    folder = tmp_path_factory.mktemp("tiny-plain")
    return build_tiny_model(folder, chat_template=None, adds_bos=False)
