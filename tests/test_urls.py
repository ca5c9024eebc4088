"""Credentials in a model endpoint are refused where the URL is read, and never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import ConfigError, WorkspaceError
from workbench.llm.client import OpenAIClient
from workbench.settings import load_settings
from workbench.workspace import load_workspace

SECRETS = ["http://user:s3cret@gpu:8000/v1", "https://s3cret@gpu/v1", "http://gpu/v1?key=s3cret"]


@pytest.mark.parametrize("url", SECRETS)
def test_an_endpoint_with_credentials_in_the_environment_is_refused_unprinted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://other:8000/v1,{url}")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "WORKBENCH_BASE_URL" in message and "WORKBENCH_API_KEY" in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize("url", SECRETS)
def test_an_endpoint_with_credentials_in_the_workspace_file_names_the_line(
    tmp_path: Path, url: str
) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "cases").mkdir()
    (tmp_path / "workbench.toml").write_text(f'name = "x"\n[models]\nendpoints = ["{url}"]\n')
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path.resolve() / 'workbench.toml'}:3: ")
    assert "WORKBENCH_API_KEY" in message and "s3cret" not in message


def test_a_server_host_with_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_SERVER_HOST", "user:s3cret@gpu")
    with pytest.raises(ConfigError, match="WORKBENCH_SERVER_HOST") as caught:
        load_settings()
    assert "s3cret" not in str(caught.value)


def test_a_client_refuses_credentials_it_would_send_and_record() -> None:
    """The last gate: code that builds a client without the settings meets it too."""
    with pytest.raises(ConfigError, match="WORKBENCH_API_KEY") as caught:
        OpenAIClient("http://user:s3cret@gpu:8000/v1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@gpu:8000/v1", "http://***@gpu:8000/v1"),
        ("https://token@gpu/v1", "https://***@gpu/v1"),
        ("http://gpu/v1?api_key=pw", "http://gpu/v1?***"),
        ("postgresql://ro:pw@db:5432/lab", "postgresql://ro:***@db:5432/lab"),
        ("postgresql://ro@db/lab", "postgresql://ro@db/lab"),
        ("http://user:pw@gpu:80x/v1", "http://***@gpu:80x/v1"),  # unparsable, still hidden
        ("http://gpu:8000/v1", "http://gpu:8000/v1"),
        ("demo", "demo"),
    ],
)
def test_redact_url_hides_credentials(url: str, shown: str) -> None:
    from workbench.urls import redact_url

    assert redact_url(url) == shown


def test_info_shows_the_endpoint(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", "http://gpu-a:8000/v1")
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["endpoint"] == "http://gpu-a:8000/v1"
