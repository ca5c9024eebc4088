"""Settings that cannot work are refused naming the variable; unknown variables are found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.commands.init import SHIPPED
from workbench.errors import ConfigError
from workbench.settings import PROJECT_ROOT, Settings, load_settings, unknown_variables
from workbench.workspace import init_workspace


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sql_timeout_s", "0", "greater than 0"),  # 0 would switch the timeout off
        ("sql_timeout_s", "-1", "greater than 0"),
        ("sql_timeout_s", "nan", "finite"),
        ("request_timeout_s", "inf", "finite"),
        ("connect_timeout_s", "0", "greater than 0"),
        ("server_start_timeout_s", "-5", "greater than 0"),
        ("sql_timeout_s", "1e300", "less than or equal to 604800"),  # overflowed select()
        ("sql_row_cap", "0", "greater than or equal to 1"),
        ("sql_row_cap", "1e3", "valid integer"),
        ("seed", "99999999999999999999", "less than or equal to 9223372036854775807"),
        ("max_retries", "-1", "greater than or equal to 0"),
        ("server_port", "70000", "less than or equal to 65535"),
        ("server_max_num_seqs", "0", "greater than or equal to 1"),
        ("server_kv_cache_gib", "inf", "finite"),
        ("base_url", "http://[::1/v1", "Invalid IPv6 URL"),
        ("base_url", "http://127.0.0.1:99999/v1", "Port out of range"),
        ("base_url", "http:///v1", "names no host"),
        ("base_url", "localhost:8000/v1", "http:// or https://"),
        ("base_url", "http://a:8000/v1, ftp://b/v1", "'ftp://b/v1'"),
        ("store_url", "not a url", "not an SQLAlchemy URL"),
        ("base_url", "http://gpu-box:8000", "add it: http://gpu-box:8000/v1"),
        ("base_url", "http://gpu-box:8000/", "add it: http://gpu-box:8000/v1"),
        ("base_url", "http://a:8000/v1/models", "give the base URL: http://a:8000/v1"),
        ("database_url", "postgresql://ro@db:5543e/lab", "the port '5543e', which is not"),
        ("database_url", "postgresql://ro@db:0/lab", "the port 0, outside 1-65535"),
        ("database_url", "postgres://ro@a:5432,b:x/lab", "the port 'x'"),
    ],
)
def test_a_value_that_cannot_work_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    variable = f"WORKBENCH_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable) as caught:
        load_settings()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:8000/v1",
        "https://gpu-box.example:443/v1",
        "http://127.0.0.1:8000/v1",
        "https://proxy.example/llm/api",  # a proxy may serve the API under its own prefix
    ],
)
def test_good_base_urls_pass_ipv6_included(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", url)
    assert load_settings().base_urls == (url,)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ro@db.internal:5432/lab",
        "postgresql://ro@[::1]:5432/lab",
        "postgresql://ro@a:5432,b:5433/lab",  # libpq's host list
        "postgresql:///lab?host=/var/run/postgresql",
        "duckdb:///lab.duckdb",
    ],
)
def test_good_database_urls_pass(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", url)
    assert load_settings().database_url == url


def test_unknown_variables_are_named_with_the_setting_meant() -> None:
    found = unknown_variables(
        {
            "WORKBENCH_SQL_TIMEOUT": "3",  # the _S is missing
            "WORKBENCH_BASEURL": "http://x/v1",
            "WORKBENCH_COLOUR": "blue",
            "WORKBENCH_SQL_ROW_CAP": "5",  # a setting
            "WORKBENCH_TEST_BASE_URL": "http://x/v1",  # read by the test suite
            "PATH": "/bin",
        }
    )
    assert found == [
        "WORKBENCH_BASEURL is not a setting and is ignored; did you mean WORKBENCH_BASE_URL?",
        "WORKBENCH_COLOUR is not a setting and is ignored; python -m workbench info lists the settings",
        "WORKBENCH_SQL_TIMEOUT is not a setting and is ignored; did you mean WORKBENCH_SQL_TIMEOUT_S?",
    ]


# -- one store per workspace, wherever the command starts ------------------------------------


@pytest.fixture
def no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_DATA_DIR", raising=False)


def make_workspace(folder: Path) -> Path:
    init_workspace(folder, SHIPPED)
    return folder


def test_the_demo_keeps_its_store_in_the_project_root_wherever_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_dir: None
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().data_dir == PROJECT_ROOT / ".workbench"


def test_a_workspace_keeps_its_store_in_its_own_folder_wherever_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_dir: None
) -> None:
    root = make_workspace(tmp_path / "ws")
    monkeypatch.chdir(root)  # the command line, started in the workspace folder
    inside = load_settings(workspace=Path("."))
    monkeypatch.chdir(tmp_path)  # the app, started from elsewhere
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
    outside = load_settings()
    assert inside.data_dir == outside.data_dir == root.resolve() / ".workbench"
    assert inside.resolved_store_url == outside.resolved_store_url


def test_a_relative_data_dir_is_resolved_against_the_workspace_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", "state")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(workspace=root)
    assert settings.data_dir == root.resolve() / "state"
    monkeypatch.chdir(root)
    assert load_settings(workspace=root).data_dir == settings.data_dir
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    assert load_settings().data_dir == PROJECT_ROOT / "state"  # the demo: the project root


def test_an_absolute_data_dir_wins_over_the_workspace(tmp_path: Path, data_dir: Path) -> None:
    """What the tests' ``data_dir`` fixture relies on to isolate them."""
    root = make_workspace(tmp_path / "ws")
    assert load_settings(workspace=root).data_dir == data_dir
    assert load_settings().data_dir == data_dir
    assert Settings(data_dir=tmp_path / "x", workspace=root).data_dir == tmp_path / "x"


def test_info_prints_where_the_store_is_from_inside_and_outside_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, no_data_dir: None
) -> None:
    root = make_workspace(tmp_path / "ws")
    monkeypatch.chdir(root)
    assert main(["--workspace", ".", "info", "--json"]) == 0
    inside = json.loads(capsys.readouterr().out)
    monkeypatch.chdir(tmp_path)
    assert main(["--workspace", "ws", "info"]) == 0
    text = capsys.readouterr().out
    store = f"sqlite:///{root.resolve() / '.workbench' / 'workbench.sqlite'}"
    assert inside["data_dir"] == str(root.resolve() / ".workbench")
    assert inside["store_url"] == store
    assert f"store_url        {store}" in text.splitlines()


def test_a_new_workspace_keeps_its_store_out_of_git(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    assert ".workbench/" in (root / ".gitignore").read_text().splitlines()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / ".gitignore").write_text("*.log")
    make_workspace(tmp_path / "kept")
    kept = (tmp_path / "kept" / ".gitignore").read_text().splitlines()
    assert kept[0] == "*.log" and ".workbench/" in kept
