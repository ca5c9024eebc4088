"""One workbench process saving into a shared store, for tests/test_store.py.

``python -m tests.store_worker STORE_URL WORKSPACE NAME FOLDER COUNT`` saves COUNT traces,
smoke runs (each with a case result) and versions of two prompts (one its own, one shared
with the other process, retried on a version conflict as a person would), then prints what
it saved as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.pipeline.test_trace import make_trace
from tests.smoke_records import manifest, result
from workbench.errors import VersionConflict
from workbench.pipeline.trace import save_trace
from workbench.prompts.versions import latest, save_prompt
from workbench.settings import Settings
from workbench.smoke.results import create_run, save_case_result, set_run_status
from workbench.store import open_store


def save_version(engine: Engine, settings: Settings, stage: Path, text: str) -> int:
    """Save ``text`` as the next version, retrying on a conflict; returns how many conflicts."""
    conflicts = 0
    while True:
        base = latest(engine, stage)
        try:
            save_prompt(
                engine, settings, stage, text, "concurrent save", base.number if base else None,
                validate=lambda _text, _path: None,
            )  # fmt: skip
            return conflicts
        except VersionConflict:
            conflicts += 1


def main(store_url: str, workspace: str, name: str, folder: str, count: int) -> None:
    settings = Settings(
        data_dir=Path(folder) / name, store_url=store_url, workspace_name=workspace, author=name
    )
    engine = open_store(settings)
    saved: dict[str, list[str]] = {"traces": [], "runs": [], "own": [], "shared": []}
    conflicts = 0
    for k in range(count):
        trace = make_trace(f"{name} question {k}")
        saved["traces"].append(save_trace(engine, trace))
        run_id = create_run(engine, manifest(), ("simple-001",), label=f"{name}-{k}")
        save_case_result(engine, run_id, result("simple-001", "pass"))
        set_run_status(engine, run_id, "done")
        saved["runs"].append(run_id)
        for key, stage in (("own", f"{name}.md"), ("shared", "shared.md")):
            text = f"{name} version {k}\n"
            conflicts += save_version(engine, settings, Path(folder) / stage, text)
            saved[key].append(text)
    print(json.dumps(saved | {"conflicts": conflicts}))


if __name__ == "__main__":
    main(*sys.argv[1:5], int(sys.argv[5]))
