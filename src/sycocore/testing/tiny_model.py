"""A tiny random Llama model with a word-level tokenizer, built on disk in seconds.

Tests use it to exercise the real transformers loading and scoring code with
no download. It needs torch, transformers and tokenizers, imported on call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["TINY_CHAT_TEMPLATE", "TINY_WORDS", "build_tiny_model"]

TINY_WORDS = (
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
    "a",
    "b",
    "c",
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
    "with",
    "letter",
    "correct",
    "option",
    "phd",
    "hold",
)
"""Words the tokenizer knows, lower case and capitalised; anything else is ``<unk>``."""

_PUNCTUATION = ["?", ":", "(", ")", ".", ",", "!"]
_SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|system|>", "<|assistant|>"]

TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|> "
    "{{ message['content'] }} {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
"""A minimal chat template in the tokenizer's own vocabulary."""


def build_tiny_model(
    folder: Path,
    *,
    words: Sequence[str] = TINY_WORDS,
    chat_template: str | None = None,
    adds_bos: bool = False,
    seed: int = 0,
) -> Path:
    """Save a random two-layer Llama and its word-level tokenizer into ``folder``.

    ``words`` sets the vocabulary, which also fixes the random weights for a
    seed. ``adds_bos`` makes the tokenizer prepend ``<s>``. Different seeds give
    different weights, so two models score the same prompts differently.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    known = sorted(set(words))
    tokens = _SPECIAL + _PUNCTUATION + known + [word.capitalize() for word in known]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if adds_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
        )
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|user|>", "<|system|>", "<|assistant|>"],
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)

    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        # A wide initialisation makes the next-token distribution far from
        # uniform, so a wrong position or mask changes the numbers visibly.
        initializer_range=0.5,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
