"""The stage kinds' shared pieces (the stages themselves run in ``test_run.py``)."""

from __future__ import annotations

from workbench.pipeline.stages import repeated_phrase


def test_repeated_phrase() -> None:
    assert repeated_phrase("a b c d e f g h " * 3) == "a b c d e f g h"
    assert repeated_phrase("a b c d e f g h " * 2) is None
    assert repeated_phrase("one two three", n=2, repeats=2) is None
