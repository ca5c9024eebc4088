"""The paper's worked example as a stored trace: the Run page's picture before any run.

A newcomer opens the Run page with no model server up and should still see what a
run looks like. The whitepaper's section 9 walks one question through every stage,
so its stage outputs, final SQL, five result rows and narrative ship as a trace file
in the ordinary trace JSON format. It is the paper's record, not a run of ours: it has
no timings, tokens or margins, and ``is_reference`` lets a page label it as such.

The worked example is the demo's: a workspace shows its own only when it keeps one
(``reference_trace.json`` in its folder, the same format), never the demo's.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from workbench.errors import StoreError
from workbench.pipeline.trace import Trace, load_trace, trace_from_json
from workbench.settings import PROJECT_ROOT, Settings

REFERENCE_TRACE_ID = "paper-worked-example"
REFERENCE_TRACE_PATH = PROJECT_ROOT / "fixtures" / "reference" / "worked_example.json"
WORKSPACE_REFERENCE = "reference_trace.json"


def reference_trace_path(settings: Settings) -> Path | None:
    """The worked example a workspace shows before any run: the demo's for the shipped demo,
    a workspace's own ``reference_trace.json`` when it keeps one, else None."""
    if settings.workspace is None:
        return REFERENCE_TRACE_PATH
    own = Path(settings.workspace) / WORKSPACE_REFERENCE
    return own if own.is_file() else None


def load_reference_trace(path: Path = REFERENCE_TRACE_PATH) -> Trace:
    """The paper's worked example; a StoreError names the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the reference trace: {exc.strerror}") from exc
    try:
        return trace_from_json(text)
    except StoreError as exc:
        raise StoreError(f"{path}: {exc}") from exc


def is_reference(trace: Trace) -> bool:
    """True for the paper's worked example (never for a live run)."""
    return trace.id == REFERENCE_TRACE_ID


def open_trace(
    engine: Engine, trace_id: str, reference: Path | None = REFERENCE_TRACE_PATH
) -> Trace:
    """A stored run by id, or the worked example at ``reference`` for ``REFERENCE_TRACE_ID``
    (a workspace without one has none to open)."""
    if trace_id == REFERENCE_TRACE_ID and reference is not None:
        return load_reference_trace(reference)
    return load_trace(engine, trace_id)
