"""The Smoke page shows what edit blame found beside the flipped case, as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session

from tests.pages.shown import fragments, text_of
from tests.pages.test_smoke import open_page, run_suite, script  # noqa: F401  (a fixture)
from workbench.settings import load_settings
from workbench.smoke.results import list_runs
from workbench.store import BlameRow, open_store

HOSTILE = "06_sql.md hunk 1, line 3 <img src=x onerror=alert(1)> ![x](http://evil/p.png)"


def test_a_stored_blame_is_shown_beside_the_compared_runs(script) -> None:  # noqa: F811
    page = run_suite(run_suite(open_page()))
    store = open_store(load_settings())
    after, before = (r.id for r in list_runs(store)[:2])
    hunk = {"file": "06_sql.md", "number": 1, "lines": HOSTILE.split(", ", 1)[1],
            "diff": "@@ -3,1 +3,1 @@\n-old\n+<b>new</b>\n"}  # fmt: skip
    data = {
        "baseline": before, "run": after, "probes": 3, "budget": 24, "estimate": 3,
        "hunks_in_edit": 2,
        "cases": {"simple-003": {"change": "new failure", "status": "found", "hunks": [hunk]}},
    }  # fmt: skip
    with Session(store) as session:
        session.add(BlameRow(run_id=after, baseline_id=before, created=datetime.now(UTC),
                             result=json.dumps(data)))  # fmt: skip
        session.commit()
    page.run()

    shown = [text_of(f) for f in fragments(page)]
    line = next(t for t in shown if t.startswith("simple-003: broken by"))
    assert line == f"simple-003: broken by {HOSTILE}"
    assert not any("<img" in f for f in fragments(page))  # escaped, not markup
    assert any("+<b>new</b>" in c.value for c in page.code)
    assert any("Edit blame · 3 probes of a budget of 24" in t for t in shown)
