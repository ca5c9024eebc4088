"""Prompt versions: save, conflict, restore, edits on disk, the prompt set at a time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from workbench.errors import PromptError, VersionConflict
from workbench.prompts.versions import (
    diff_sets,
    error_excerpt,
    history,
    latest,
    prompt_set_at,
    restore,
    save_prompt,
    side_by_side_html,
    sync_from_disk,
)
from workbench.settings import Settings
from workbench.store import open_store

V1 = "---\nid: dates\n---\n## Dates\n- Resolve relative dates.\n"
V2 = "---\nid: dates\n---\n## Dates\n- Resolve relative dates.\n- Use ISO dates.\n"
V3 = "---\nid: dates\n---\n## Dates\n- Resolve relative dates against today.\n"


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "01_dates.md").write_text(V1)
    return folder


@pytest.fixture
def ann(settings: Settings, prompts: Path) -> Settings:
    return settings.model_copy(update={"prompts_dir": prompts, "author": "ann"})


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return open_store(settings)


def test_first_sight_of_a_file_is_version_1(engine: Engine, prompts: Path) -> None:
    first = sync_from_disk(engine, prompts / "01_dates.md")
    assert first is not None
    assert (first.number, first.origin, first.text) == (1, "disk", V1)
    assert sync_from_disk(engine, prompts / "01_dates.md") == first  # unchanged: no new version


def test_save_writes_the_file_and_a_new_version(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    saved = save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=1)
    assert (saved.number, saved.author, saved.message, saved.origin) == (
        2,
        "ann",
        "add ISO rule",
        "save",
    )
    assert stage.read_text() == V2
    assert [v.number for v in history(engine, stage)] == [1, 2]
    assert not list(prompts.glob(".*.tmp"))


def test_stale_save_is_refused_and_shows_what_changed(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=1)
    bob = ann.model_copy(update={"author": "bob"})
    with pytest.raises(VersionConflict) as caught:
        save_prompt(engine, bob, stage, V3, "reword", base_version=1)
    message = str(caught.value)
    assert "version 2 was saved by ann" in message
    assert "add ISO rule" in message
    assert "+- Use ISO dates." in message
    assert stage.read_text() == V2
    assert len(history(engine, stage)) == 2


def test_two_tabs_saving_at_once_cannot_both_win(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    outcomes: list[str] = []

    def save(text: str) -> None:
        try:
            save_prompt(engine, ann, stage, text, "tab", base_version=1)
            outcomes.append("saved")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(text,)) for text in (V2, V3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert [v.number for v in history(engine, stage)] == [1, 2]
    assert stage.read_text() == latest(engine, stage).text


def test_invalid_text_is_refused_and_nothing_is_written(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    bad = "---\nid: dates\ntitle: Dates: relative\n---\n## Dates\n"
    with pytest.raises(PromptError) as caught:
        save_prompt(engine, ann, stage, bad, "oops", base_version=1)
    assert caught.value.line == 3
    marked = [line for line in error_excerpt(bad, caught.value).splitlines() if line[0] == ">"]
    assert marked == [">    3 | title: Dates: relative"]
    assert stage.read_text() == V1
    assert len(history(engine, stage)) == 1


def test_a_passed_in_validator_decides(engine: Engine, ann: Settings, prompts: Path) -> None:
    def no_macro_tasks(text: str, path: Path) -> None:
        if "## " in text:
            raise PromptError("this stage takes no macro-tasks", path=str(path), line=4)

    with pytest.raises(PromptError, match="01_dates.md:4: this stage takes no macro-tasks"):
        save_prompt(engine, ann, prompts / "01_dates.md", V2, "m", 1, validate=no_macro_tasks)


def test_edit_on_disk_becomes_a_version_before_a_save(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    stage.write_text(V3)  # someone edits the file in their text editor
    with pytest.raises(VersionConflict, match="changed on disk"):
        save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=1)
    versions = history(engine, stage)
    assert [(v.number, v.origin, v.text) for v in versions] == [(1, "disk", V1), (2, "disk", V3)]
    saved = save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=2)
    assert saved.number == 3


def test_a_first_save_keeps_the_file_it_replaces_as_version_1(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    """A script that edits a file the store never saw (base None) saves, and the text that
    was on disk is kept first; once the store knows the file, base None is a conflict."""
    stage = prompts / "01_dates.md"
    saved = save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=None)
    assert [(v.number, v.origin, v.text) for v in history(engine, stage)] == [
        (1, "disk", V1), (2, "save", V2),
    ]  # fmt: skip
    assert saved.number == 2 and stage.read_text() == V2
    with pytest.raises(VersionConflict):
        save_prompt(engine, ann, stage, V3, "another", base_version=None)


def test_restore_is_a_new_version(engine: Engine, ann: Settings, prompts: Path) -> None:
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    save_prompt(engine, ann, stage, V2, "add ISO rule", base_version=1)
    restored = restore(engine, ann, stage, 1, base_version=2)
    assert (restored.number, restored.origin, restored.text) == (3, "restore", V1)
    assert restored.message == "restore version 1"
    assert stage.read_text() == V1
    with pytest.raises(VersionConflict):
        restore(engine, ann, stage, 2, base_version=2)


def test_prompt_set_at_a_time_and_the_diff_between_two(
    engine: Engine, ann: Settings, prompts: Path
) -> None:
    dates = prompts / "01_dates.md"
    noise = prompts / "02_noise.md"
    sync_from_disk(engine, dates)
    before = datetime.now(UTC)
    save_prompt(engine, ann, dates, V2, "add ISO rule", base_version=1)
    save_prompt(engine, ann, noise, "---\nid: noise\n---\n", "new stage", base_version=None)
    after = datetime.now(UTC)

    assert prompt_set_at(engine, before) == {"01_dates.md": V1}
    assert prompt_set_at(engine, after) == {
        "01_dates.md": V2,
        "02_noise.md": "---\nid: noise\n---\n",
    }
    assert prompt_set_at(engine, before - timedelta(days=1)) == {}
    changes = diff_sets(engine, before, after)
    assert [(c.stage, c.kind) for c in changes] == [
        ("01_dates.md", "changed"),
        ("02_noise.md", "added"),
    ]
    assert "+- Use ISO dates." in changes[0].diff
    assert diff_sets(engine, after, after) == []


def test_side_by_side_marks_changed_words() -> None:
    page = side_by_side_html(V1, V3, "v1", "v3")
    # The unchanged words of a changed line stay unmarked.
    assert '- Resolve relative dates <ins class="wb-ins">against today</ins>.' in page
    assert page.count("<tr") == 1 + len(V1.splitlines())
    assert "<th>v1</th>" in page and "<th>v3</th>" in page
