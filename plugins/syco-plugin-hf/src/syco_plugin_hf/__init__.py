"""Hugging Face transformers backend for syco.

The backend class is :class:`~syco_plugin_hf.backend.HFBackend`; importing this
package does not import torch or transformers.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
