"""A failing test is reported as a failure, never as a crash of the session.

CPython 3.11.0 to 3.11.7 (the preinstalled 3.11.7 and Debian's 3.11.2 alike) keep the AST
constructor's recursion depth in one global. pytest builds a failure's report by parsing the
test's source with ``ast.parse``; the allocations of that parse can start the garbage
collector, which runs the finalizers of the failed test's garbage. When a finalizer raises
(openai's client wrapper does when its constructor failed half-way), the exception goes to
pytest's unraisable hook, which formats it, and 3.11's traceback module parses the line to
place its carets: a second ``ast.parse`` inside the first resets the global, and the outer
one ends with ``SystemError: AST constructor recursion depth mismatch`` — an INTERNALERROR
that ends the session at the next failure (python/cpython#106905, fixed in 3.11.8).

The same nesting can hit any ``ast.parse`` of the session (pytest rewrites a plugin's module
on import, Streamlit parses a page for its magic). So on the affected versions ``ast.parse``
runs with the collector paused: nothing else can run inside it (no finalizer, and so no
other thread either, as the GIL is only given up between bytecodes), and the garbage is
collected, its finalizers' errors shown as warnings, right after.
"""

from __future__ import annotations

import ast
import functools
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

AFFECTED = (3, 11) <= sys.version_info[:3] < (3, 11, 8)


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_alone(parse):  # type: ignore[no-untyped-def]
    @functools.wraps(parse)
    def parse_alone(*args, **kwargs):  # type: ignore[no-untyped-def]
        with collector_paused():
            return parse(*args, **kwargs)

    parse_alone.parses_alone = True  # type: ignore[attr-defined]
    return parse_alone


if AFFECTED and not getattr(ast.parse, "parses_alone", False):
    ast.parse = _parse_alone(ast.parse)
