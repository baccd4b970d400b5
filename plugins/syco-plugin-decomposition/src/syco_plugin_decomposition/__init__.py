"""syco plugin: the truth-margin / sensitivity decomposition, model comparison and reports.

Registers the ``decomposition`` metric and the ``syco compare`` and
``syco report`` commands. Numerical libraries are imported only when a
metric runs or a command executes.
"""

from __future__ import annotations

__version__ = "0.1.0"
