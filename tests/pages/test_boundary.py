"""No page ever shows a traceback (AppTest through ``app.py``'s navigation): a workspace
without prompts, a prompt with a front matter typo, a ``schema.yaml`` naming a column the
database lacks and a database without tables each give one clean error notice naming the
file or database on every page that needs it; an unexpected exception is a notice too."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import use_database
from tests.pages.shown import notices
from workbench.commands.init import STARTER
from workbench.settings import PROJECT_ROOT
from workbench.workspace import init_workspace

PAGES = ["home", "run", "smoke", "server", "prompts", "budget"]
CASE = """\
- id: simple-001
  question: How many customers are there?
  gold_sql: SELECT COUNT(*) FROM customer
  tags: [simple]
"""


def _workspace(root: Path, *, tables: bool = True) -> Path:
    made = init_workspace(root, STARTER)
    with duckdb.connect(str(made.root / "shop.duckdb")) as connection:
        if tables:
            connection.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT)")
            connection.execute("INSERT INTO customer VALUES (1, 'Ann')")
    use_database(made.root, "duckdb:///shop.duckdb")
    (made.cases_dir / "cases.yaml").write_text(CASE)
    return made.root


def no_prompts(root: Path) -> tuple[str, str | None]:
    for prompt in (root / "prompts").glob("*.md"):
        if prompt.name != "README.md":
            prompt.unlink()
    return f"{root / 'prompts'}: no stage prompt files (*.md) found", None


def front_matter_typo(root: Path) -> tuple[str, str | None]:
    path = root / "prompts" / "06_sql.md"
    text = path.read_text()
    line = text.splitlines().index("mode: gated") + 1
    path.write_text(text.replace("mode: gated", "modee: gated"))
    return f"{path}:{line}: invalid front matter: modee: unknown key", "06_sql.md"


def schema_notes_typo(root: Path) -> tuple[str, str | None]:
    (root / "schema.yaml").write_text("exclude:\n  - customer.emial\n")
    return f"{root / 'schema.yaml'}:2: 'customer.emial' names no column", "06_sql.md"


def no_tables(root: Path) -> tuple[str, str | None]:
    path = (root / "shop.duckdb").resolve()
    path.unlink()
    duckdb.connect(str(path)).close()
    return f"the database duckdb:///{path} has no table the role can read", "06_sql.md"


SITUATIONS = [no_prompts, front_matter_typo, schema_notes_typo, no_tables]
WHERE = {  # the pages that need what is broken; the others work as usual
    "no_prompts": {"home", "run", "smoke", "prompts", "budget"},
    "front_matter_typo": {"home", "run", "smoke", "prompts", "budget"},
    "schema_notes_typo": {"run", "smoke", "prompts"},
    "no_tables": {"home", "run", "smoke", "prompts"},
}


def open_page(name: str, stage: str | None) -> AppTest:
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.run()
    app.switch_page(f"pages/{name}.py").run()
    if name == "prompts" and stage and app.selectbox(key="stage").options:
        app.selectbox(key="stage").set_value(stage).run()
    return app


@pytest.mark.parametrize("situation", SITUATIONS, ids=lambda s: s.__name__)
def test_every_page_names_what_is_broken_without_a_traceback(
    situation, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _workspace(tmp_path / "shop")
    message, stage = situation(root)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
    monkeypatch.setenv("WORKBENCH_BASE_URL", "http://127.0.0.1:9/v1")  # nothing answers
    for name in PAGES:
        app = open_page(name, stage)
        assert not app.exception, (name, app.exception)
        errors = notices(app, "error")
        if name in WHERE[situation.__name__]:
            assert any(message in error for error in errors), (name, errors)
            if name != "prompts":  # which also marks the file it edits beside the editor
                assert len(errors) == len(set(errors)), (name, errors)  # said once
        else:
            assert not errors, (name, errors)
            assert app.title, name  # the page drew itself


def test_an_unexpected_exception_is_a_notice_with_its_type_not_a_traceback(capfd) -> None:
    def page() -> None:
        import streamlit as st

        from pages.common import page_boundary

        with page_boundary():
            st.title("before")
            raise ValueError("<b>not markup</b> ![x](http://example.com/x.png)")
        st.title("after the page")

    app = AppTest.from_function(page).run()
    assert not app.exception
    (shown,) = notices(app, "error")
    assert shown.startswith("Unexpected error")
    assert "ValueError: <b>not markup</b> ![x](http://example.com/x.png)" in shown
    fragment = next(f for f in app.get("html") if "ValueError" in f.proto.body).proto.body
    assert "<b>not markup</b>" not in fragment and "&lt;b&gt;" in fragment
    assert [t.value for t in app.title] == ["before", "after the page"]
    assert "Traceback (most recent call last)" in capfd.readouterr().err


def test_a_workbench_error_is_its_message_and_skips_the_rest_of_the_page() -> None:
    def page() -> None:
        import streamlit as st

        from pages.common import page_boundary
        from workbench.errors import PromptError

        with page_boundary():
            raise PromptError("unknown key", path="prompts/06_sql.md", line=7)
            st.title("never drawn")

    app = AppTest.from_function(page).run()
    assert not app.exception and not app.title
    assert notices(app, "error") == ["prompts/06_sql.md:7: unknown key"]
