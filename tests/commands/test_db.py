"""``python -m workbench db build``: builds, reuses, rebuilds, prints counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.settings import Settings
from workbench.sql.schema import table_counts


def test_db_build_json_then_reuse_then_force(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DEMO_VARIANTS", "1")
    assert main(["db", "build", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    (variant,) = first["variants"]
    assert variant["seed"] == Settings().demo_seed + 1 and variant["built"] is True
    assert Path(variant["path"]).parent == path_parent(first) and variant["seconds"] > 0
    path = Path(first["path"])
    assert first["built"] is True
    assert path.is_file() and path.is_relative_to(data_dir.resolve())
    assert first["size_bytes"] == path.stat().st_size
    assert first["seconds"] > 0
    assert first["tables"] == table_counts(path)

    assert main(["db", "build", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["built"] is False and second["path"] == first["path"]
    assert second["variants"][0]["built"] is False

    assert main(["db", "build", "--force"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == str(path)
    assert "built in" in text
    assert f"seed {variant['seed']}: built in " in text
    for table, rows in first["tables"].items():
        assert f"{rows:,}" in next(line for line in text.splitlines() if table in line)


def path_parent(report: dict) -> Path:
    return Path(report["path"]).parent


def test_db_build_reports_a_bad_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(blocker))
    assert main(["db", "build", "--json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["kind"] == "ConfigError" and "WORKBENCH_DATA_DIR" in error["error"]


def test_db_requires_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["db"])
    assert exited.value.code == 2
    assert "build" in capsys.readouterr().err
