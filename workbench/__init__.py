"""A prompt-engineering workbench for serial Text2SQL pipelines.

The core package: pure Python, no user interface. Pages in ``pages/`` render
what the functions here return.
"""

from __future__ import annotations

__version__ = "0.1.0"
