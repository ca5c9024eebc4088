"""Workspaces: workbench.toml at the trust boundary (file:line errors), init, and the settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.domain import LAB_WORDS
from workbench.cases.suite import STAGE_IDS, load_cases
from workbench.commands.init import SHIPPED, STARTER
from workbench.errors import ConfigError, WorkspaceError
from workbench.prompts import load_prompt_set
from workbench.settings import load_settings
from workbench.smoke.plan import SmokeOptions, select_suite
from workbench.workspace import (
    WORKSPACE_FILE,
    init_workspace,
    key_line,
    load_workspace,
    slug,
    workspace_toml,
)

FULL = """\
name = "acme-lab"
description = "the lab team's pipeline"

[database]
url = "postgresql://workbench_ro@db.internal:5432/lab"
timeout_s = 20
row_cap = 500

[models]
endpoints = ["http://gpu-a:8000/v1/", "http://gpu-b:8000/v1"]
main = "qwen3"
sql_think = "sql"
seed = 7

[run]
as_of = 2025-12-31

[paths]
prompts = "stages"
cases = "suite"
schema = "docs/schema.md"
"""


def workspace(tmp_path: Path, text: str, *folders: str) -> Path:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    (root / WORKSPACE_FILE).write_text(text, encoding="utf-8")
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


def test_a_full_workspace_file_sets_the_settings(tmp_path: Path) -> None:
    root = workspace(tmp_path, FULL, "stages", "suite")
    loaded = load_workspace(root)
    assert (loaded.name, loaded.root, loaded.description) == (
        "acme-lab",
        root.resolve(),
        "the lab team's pipeline",
    )
    settings = load_settings(workspace=root, data_dir=tmp_path / "data")
    assert settings.workspace_name == "acme-lab"
    assert settings.database_url == "postgresql://workbench_ro@db.internal:5432/lab"
    assert (settings.sql_timeout_s, settings.sql_row_cap) == (20, 500)
    assert settings.base_urls == ("http://gpu-a:8000/v1", "http://gpu-b:8000/v1")
    assert (settings.model_main, settings.model_sql_think, settings.seed) == ("qwen3", "sql", 7)
    assert settings.model_for("think") == "smollm2-135m-instruct"  # not in the file: the default
    assert settings.as_of == date(2025, 12, 31)
    assert settings.prompts_dir == root.resolve() / "stages"
    assert settings.smoke_cases_dir == root.resolve() / "suite"
    assert settings.schema_file == root.resolve() / "docs" / "schema.md"


def test_the_workspace_as_of_reaches_cases_without_their_own(tmp_path: Path) -> None:
    root = workspace(tmp_path, FULL, "stages", "suite")
    (root / "suite" / "simple.yaml").write_text(
        "- id: simple-001\n  question: How many albums are there?\n"
        "  gold_sql: SELECT COUNT(*) FROM album\n  tags: [simple]\n",
        encoding="utf-8",
    )
    settings = load_settings(workspace=root, data_dir=tmp_path / "data")
    (case,) = select_suite(SmokeOptions(), settings=settings)
    assert case.as_of == date(2025, 12, 31)


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch) -> None:
    root = workspace(tmp_path, FULL, "stages", "suite")
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
    monkeypatch.setenv("WORKBENCH_MODEL_MAIN", "from-env")
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", "postgresql://other@h/db")
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.workspace_name == "acme-lab"  # found through WORKBENCH_WORKSPACE
    assert (settings.model_main, settings.model_sql_think) == ("from-env", "sql")
    assert settings.database_url == "postgresql://other@h/db"


def test_without_a_workspace_the_shipped_demo_is_used(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert (settings.workspace, settings.workspace_name, settings.database_url) == (
        None,
        "demo",
        "demo",
    )
    assert settings.smoke_cases_dir == SHIPPED.cases


def test_a_relative_duckdb_file_is_relative_to_the_workspace(tmp_path: Path) -> None:
    text = 'name = "files"\n[database]\nurl = "duckdb:///data/lab.duckdb"\n'
    root = workspace(tmp_path, text, "prompts", "cases")
    assert load_workspace(root).database_url == f"duckdb:///{root.resolve()}/data/lab.duckdb"
    text = 'name = "files"\n[database]\nurl = "duckdb:////srv/lab.duckdb"\n'
    assert load_workspace(workspace(tmp_path, text)).database_url == "duckdb:////srv/lab.duckdb"


BAD = [
    # (the file, the line the error names, words the message holds)
    ('name = "x"\n[database\nurl = "demo"\n', 2, "not valid TOML"),
    ('name = "x"\nname = "y"\n', 2, "not valid TOML"),
    ('[database]\nurl = "demo"\n', None, "name: Field required"),
    ('name = "Acme Lab"\n', 1, "name: String should match pattern"),
    ('name = "demo"\n', 1, "the shipped demo's name"),
    ('name = "x"\ncolour = "blue"\n', 2, "colour: unknown key"),
    ('name = "x"\n\n[databse]\nurl = "demo"\n', 3, "databse: unknown key"),
    ('name = "x"\n[database]\n# the lab\nurl = "mysql://lab"\n', 4, "is not a database URL"),
    (
        'name = "x"\n[database]\nurl = "postgresql://ro:hunter2@db/lab"\n',
        3,
        "holds a password, and workbench.toml is kept in git",
    ),
    ('name = "x"\n[database]\nrow_cap = 0\n', 3, "greater than or equal to 1"),
    # numbers the settings would refuse under a WORKBENCH_* name the user never set
    (
        'name = "x"\n[database]\ntimeout_s = inf\n',
        3,
        "database.timeout_s: Input should be a finite",
    ),
    (
        'name = "x"\n[database]\ntimeout_s = nan\n',
        3,
        "database.timeout_s: Input should be a finite",
    ),
    ('name = "x"\n[database]\ntimeout_s = -1\n', 3, "database.timeout_s: Input should be greater"),
    ('name = "x"\n[database]\ntimeout_s = 1e300\n', 3, "less than or equal to 604800"),
    ('name = "x"\n[database]\ntimeout_s = "10"\n', 3, "timeout_s: Input should be a valid number"),
    ('name = "x"\n[database]\ntimeout_s = true\n', 3, "timeout_s: Input should be a valid number"),
    ('name = "x"\n[database]\nrow_cap = 1e3\n', 3, "row_cap: Input should be a valid integer"),
    ('name = "x"\n[database]\nrow_cap = 100000000000\n', 3, "less than or equal to 10000000"),
    ('name = "x"\n[models]\nseed = 99999999999999999999\n', 3, "models.seed: Input should be less"),
    ('name = "x"\n[models]\nseed = 1.5\n', 3, "models.seed: Input should be a valid integer"),
    ('name = "x"\n[models]\nendpoints = ["gpu:8000"]\n', 3, "http:// or https://"),
    (
        'name = "x"\n[database]\nurl = "postgresql://ro@db.internal:5543e/lab"\n',
        3,
        "has the port '5543e', which is not a number",
    ),
    (
        'name = "x"\n[database]\nurl = "postgresql://ro:hunter2@db:70000/lab"\n',
        3,
        "has the port 70000, outside 1-65535",
    ),
    (
        'name = "x"\n[models]\nendpoints = [\n  "http://gpu-a:8000/v1",\n  "http://gpu-b:8000",\n]\n',
        3,
        "add it: http://gpu-b:8000/v1",
    ),
    (
        'name = "x"\n[models]\nendpoints = ["http://gpu:8000/v1/chat/completions"]\n',
        3,
        "give the base URL: http://gpu:8000/v1",
    ),
    ('name = "x"\n[models]\nendpoints = ["http://gpu:80x/v1"]\n', 3, "Port could not be cast"),
    ('name = "x"\n[run]\nas_of = "yesterday"\n', 3, "as_of"),
    ('name = "x"\ndatabase.url = 5\n', 2, "database.url: Input should be a valid string"),
    ('name = "x"\n[paths]\nprompts = "nowhere"\n', 3, "paths.prompts names"),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD, ids=[b[2][:30] for b in BAD])
def test_a_bad_workspace_file_names_the_file_and_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    root = workspace(tmp_path, text, "cases", "prompts")
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root)
    where = (
        f"{root.resolve() / WORKSPACE_FILE}:{line}: "
        if line
        else f"{root.resolve() / WORKSPACE_FILE}: "
    )
    assert str(caught.value).startswith(where)
    assert words in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_missing_workspace_or_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"no such workspace folder.*workbench init"):
        load_workspace(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkspaceError, match=r"workbench.toml: missing.*workbench init"):
        load_workspace(tmp_path / "empty")
    with pytest.raises(WorkspaceError, match="no such workspace folder"):
        load_settings(workspace=tmp_path / "absent")


def test_a_bad_database_url_in_the_environment_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", "lab.duckdb")
    with pytest.raises(ConfigError, match="WORKBENCH_DATABASE_URL.*duckdb:///PATH"):
        load_settings()


def test_key_line_finds_tables_keys_and_dotted_keys() -> None:
    text = 'name = "x"\n[models]  # the server\nmain = "a"\n\n[ "paths" ]\n"prompts" = "p"\n'
    assert key_line(text, ("name",)) == 1
    assert key_line(text, ("models", "main")) == 3
    assert key_line(text, ("models", "endpoints", 0)) == 2  # absent: its table
    assert key_line(text, ("paths", "prompts")) == 6
    assert key_line(text, ("nowhere",)) is None


def test_init_from_the_demo_copies_prompts_and_cases_ready_to_load(tmp_path: Path) -> None:
    made = init_workspace(tmp_path / "Lab Team", SHIPPED)
    assert made.name == "lab-team"
    shipped_prompts = sorted(p.name for p in SHIPPED.prompts.iterdir())
    assert sorted(p.name for p in made.prompts_dir.iterdir()) == shipped_prompts
    shipped_cases = sorted(p.name for p in SHIPPED.cases.iterdir())
    assert sorted(p.name for p in made.cases_dir.iterdir()) == shipped_cases
    settings = load_settings(workspace=tmp_path / "Lab Team", data_dir=tmp_path / "data")
    assert (settings.workspace_name, settings.database_url) == ("lab-team", "demo")
    assert load_workspace(made.root) == made


def test_plain_init_writes_a_starter_pipeline_that_loads(tmp_path: Path) -> None:
    made = init_workspace(tmp_path / "ws", STARTER, name="ours")
    assert made.name == "ours"
    assert sorted(p.name for p in made.prompts_dir.iterdir()) == [
        "01_dates.md",
        "02_noise.md",
        "03_query.md",
        "04_reference.md",
        "05_cleanup.md",
        "06_sql.md",
        "07_narrative.md",
        "README.md",
        "budget.yaml",
        "examples.yaml",
        "gates.yaml",
    ]
    assert sorted(p.name for p in made.cases_dir.iterdir()) == [
        "README.md",
        "cases.yaml",
        "tags.yaml",
    ]
    prompts = load_prompt_set(made.prompts_dir)
    assert [p.id for p in prompts.stages] == list(STAGE_IDS)
    assert prompts.gates["gate2"].reads_the_database
    sql = next(p for p in prompts.stages if p.kind == "sql")
    assert "schema_sql" in sql.variables and sql.bank is not None and sql.bank.entries == ()
    assert load_cases(made.cases_dir) == ()


def test_the_starter_pipeline_and_docs_speak_of_no_domain(tmp_path: Path) -> None:
    made = init_workspace(tmp_path / "ws", STARTER)
    for path in sorted(made.root.rglob("*")):
        if path.is_file():
            words = LAB_WORDS.findall(path.read_text(encoding="utf-8"))
            assert not words, f"{path.relative_to(made.root)} speaks of the lab demo: {words}"


def test_init_works_where_the_workspace_it_makes_is_already_named(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "new"))
    assert main(["init", str(tmp_path / "new")]) == 0
    assert "workspace 'new' created" in capsys.readouterr().out
    assert main(["info", "--json"]) == 0
    assert '"workspace": "new"' in capsys.readouterr().out


def test_init_never_overwrites(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", STARTER)
    with pytest.raises(WorkspaceError, match="would overwrite"):
        init_workspace(tmp_path / "ws", SHIPPED)
    with pytest.raises(WorkspaceError, match="cannot name a workspace"):
        init_workspace(tmp_path / "other", SHIPPED, name="demo")


def test_the_template_is_a_valid_workspace_file(tmp_path: Path) -> None:
    root = workspace(tmp_path, workspace_toml("fresh"), "prompts", "cases")
    assert load_workspace(root).database_url == "demo"
    assert slug("Demo") == "demo-copy" and slug("My Lab!") == "my-lab"


def test_every_password_message_tells_one_story(tmp_path: Path) -> None:
    """PGPASSWORD or ~/.pgpass, never the file: no message advises putting it in the URL."""
    from workbench.sql.postgres import connect_failure

    setting = "database.url in ws/workbench.toml"
    url = "postgresql://ro@db:5432/lab"
    messages = [
        str(connect_failure(Exception("FATAL: no password supplied"), url, setting)),
        str(connect_failure(Exception("FATAL: password authentication failed"), url, setting)),
        str(
            connect_failure(
                Exception("FATAL: password authentication failed"),
                "postgresql://ro:secret@db/lab",
                "WORKBENCH_DATABASE_URL",
            )
        ),
    ]
    root = workspace(tmp_path, 'name = "x"\n[database]\nurl = "postgresql://ro:pw@db/lab"\n')
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root)
    messages.append(str(caught.value))
    for message in messages:
        assert "PGPASSWORD" in message and "~/.pgpass" in message, message
        assert "put it in" not in message and "secret" not in message, message
    assert "never in workbench.toml" in messages[0]
    assert "remove it from the URL" in messages[2] and "remove it from the URL" in messages[3]


def test_a_file_value_the_settings_refuse_is_blamed_on_the_file_not_a_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: should the file's check let a value pass that the settings refuse,
    the message still names the file's line and key, never WORKBENCH_SQL_TIMEOUT_S."""
    import dataclasses

    import workbench.settings

    root = workspace(tmp_path, 'name = "x"\n[database]\n\ntimeout_s = 5\n', "cases", "prompts")
    loaded = load_workspace(root)
    bad = dataclasses.replace(loaded, overrides={"sql_timeout_s": float("inf")})
    monkeypatch.setattr(workbench.settings, "load_workspace", lambda folder: bad)
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace=root)
    message = str(caught.value)
    assert f"{root.resolve() / WORKSPACE_FILE}:4: database.timeout_s: " in message, message
    assert "WORKBENCH_" not in message
