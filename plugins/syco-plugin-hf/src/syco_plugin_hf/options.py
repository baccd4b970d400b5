"""Options of the ``hf`` backend."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from sycocore.backends import BackendOptions

__all__ = ["DType", "HFOptions"]

DType = Literal["auto", "float32", "bfloat16", "float16"]

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class HFOptions(BackendOptions):
    """Options of the ``hf`` backend.

    ``batch_size`` counts sequences per forward pass: one per prompt for the
    next-token readout, one per candidate for the continuation readout.
    ``None`` starts at 64 on CUDA and 32 elsewhere, and halves the size after a
    CUDA out-of-memory error, then retries.
    """

    model: str | None = None
    """Hugging Face model id, local model folder, GGUF file path, or an alias
    such as ``smollm2-135m-instruct``; ``None`` selects ``smollm2-135m-instruct``."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    dtype: DType = "auto"
    """Weights and activations type; ``auto`` is bfloat16 on CUDA and float32 elsewhere.
    GGUF files are dequantised to this type."""
    trust_remote_code: bool = False
    """Allow a model folder or hub repository to run its own Python code."""
    revision: str | None = None
    """Branch, tag or commit of a hub model; ``None`` is the default branch."""
    gguf_file: str | None = None
    """GGUF file name inside a model folder or hub repository; a ``model`` that
    is itself a ``.gguf`` path needs none."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch; ``None`` keeps torch's default."""
    prefix_reuse: bool = True
    """Run each batch as a token tree, so that a prefix its prompts share is
    computed once. Without it, batches are left-padded."""

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not _DEVICE_PATTERN.match(value):
            raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
        return value
