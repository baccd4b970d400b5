"""syco backend for OpenAI-compatible HTTP servers (OpenAI, vLLM, llama.cpp server, Ollama)."""

from __future__ import annotations

from .backend import OpenAIBackend, OpenAIOptions

__all__ = ["OpenAIBackend", "OpenAIOptions"]
