"""syco backend that scores GGUF models in process with llama-cpp-python."""

from __future__ import annotations

from .backend import LlamaCppBackend, LlamaCppOptions

__all__ = ["LlamaCppBackend", "LlamaCppOptions"]
