"""The app opened on a workspace whose database is PostgreSQL (AppTest): every page names the
workspace, its database and endpoint; home lists that database's tables, the Prompts page edits
its prompts, the Smoke page offers its cases and runs them there."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.conftest import PostgresLab, use_database
from tests.pages.shown import banner, notices
from tests.pages.test_prompts import editor
from tests.smoke_script import CASES, PipelineScript
from workbench.commands.init import SHIPPED
from workbench.settings import PROJECT_ROOT
from workbench.sql import PostgresDatabase
from workbench.workspace import init_workspace

pytestmark = pytest.mark.postgres


@pytest.fixture
def workspace(tmp_path: Path, data_dir: Path, lab_url: str, monkeypatch) -> Path:
    """A workspace from the demo, two of its cases kept, on the PostgreSQL demo data."""
    made = init_workspace(tmp_path / "lab-team", SHIPPED)
    for case_file in made.cases_dir.glob("*.yaml"):
        if case_file.name != "tags.yaml":
            case_file.unlink()
    cases = [
        {"id": c.id, "question": c.question, "gold_sql": c.gold_sql, "tags": [*c.tags, "ours"]}
        for c in CASES[:2]
    ]
    (made.cases_dir / "simple.yaml").write_text(yaml.safe_dump(cases))
    with (made.cases_dir / "tags.yaml").open("a") as tags:
        tags.write('ours: "A tag only this workspace has."\n')
    (made.prompts_dir / "06_sql.md").write_text(
        (made.prompts_dir / "06_sql.md").read_text() + "\n- Only this workspace says this.\n"
    )
    use_database(made.root, lab_url)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(made.root))
    return made.root


def open_page(path: Path) -> AppTest:
    page = AppTest.from_file(str(path), default_timeout=120)
    page.run()
    assert not page.exception, page.exception
    assert not page.error and not notices(page, "error"), notices(page, "error")
    return page


def test_every_page_names_the_workspace_and_shows_its_database_prompts_and_cases(
    workspace: Path, postgres_lab: PostgresLab
) -> None:
    home = open_page(PROJECT_ROOT / "app.py")
    assert "`lab-team`" in banner(home)
    assert "`postgresql://workbench_ro@127.0.0.1:" in banner(home)
    tables = next(f.value for f in home.dataframe if "table" in f.value.columns)
    counts = PostgresDatabase(postgres_lab.url).table_counts()
    assert dict(zip(tables["table"], tables["rows"], strict=True)) == counts
    facts = next(f.value for f in home.dataframe if "what" in f.value.columns)
    assert dict(zip(facts["what"], facts["value"], strict=True))["smoke cases"].startswith(
        f"2 in {workspace / 'cases'}"
    )

    prompts = open_page(PROJECT_ROOT / "pages" / "prompts.py")
    assert "`lab-team`" in banner(prompts)
    prompts.selectbox[0].set_value("06_sql.md").run()
    _, body = editor(prompts, "body", "06_sql.md")
    assert "Only this workspace says this." in body["code"]

    smoke = open_page(PROJECT_ROOT / "pages" / "smoke.py")
    assert "`lab-team`" in banner(smoke)
    assert "ours" in smoke.multiselect(key="smoke_tags").options
    assert smoke.number_input(key="smoke_limit").max == 2


def test_a_smoke_run_from_the_page_runs_on_the_workspace_database(
    workspace: Path, scripted_server, monkeypatch
) -> None:
    script = PipelineScript(cases=CASES[:2])
    scripted_server.respond_with(script.reply)
    monkeypatch.setenv("WORKBENCH_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
    page = open_page(PROJECT_ROOT / "pages" / "smoke.py")
    page.number_input(key="smoke_repeats").set_value(1)
    next(b for b in page.button if b.label == "Run the smoke suite").click().run()
    page.session_state["smoke_job"].wait(120)
    page.run()
    assert not page.exception, page.exception
    table = page.dataframe[0].value
    assert list(table["verdict"]) == ["✅ pass", "✅ pass"]
    assert "database `postgresql://workbench_ro@" in banner(page)
    shutil.rmtree(workspace / "cases")  # a workspace missing its cases: said so, no traceback
    broken = AppTest.from_file(str(PROJECT_ROOT / "pages" / "smoke.py"), default_timeout=60)
    broken.run()
    assert not broken.exception
    (error,) = notices(broken, "error")
    assert re.search(r"workbench\.toml:\d+: paths\.cases names .*create it", error)
