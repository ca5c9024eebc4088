"""The stage prompt texts a smoke run ran with, found again by their hashes.

A run's manifest keeps, per stage, the first 12 hex digits of the prompt's content hash
(``RunManifest.stage_versions``), not the text. Edit blame needs the texts of both runs
to cut the edit into hunks, so they are looked up: first the prompts folder as it is
(a file that did not change since), then the prompt version history (the
``prompt_version`` table keeps every text saved, restored or seen on disk, with its
SHA-256). A run's prompts become findable there because planning a run records the
files as they are (``workbench.smoke.plan``). What cannot be found is refused with what
to do; nothing is guessed.

The texts are then written to a folder of their own (``write_prompt_set``) beside the
prompts folder's other files (gates, budget, example banks), loaded, and checked to
give exactly the run's prompt set hash, so a probe never runs prompts the run did not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.errors import ConfigError
from workbench.prompts import PromptSet, load_prompt_set
from workbench.smoke.results import RunRecord
from workbench.store import PromptVersionRow, store_workspace


def run_prompt_texts(store: Engine, record: RunRecord, current: PromptSet) -> dict[str, str]:
    """``{file name: text}`` of every stage prompt ``record`` ran with.

    Raises:
        ConfigError: a stage's text is neither in the prompts folder nor in the history.
    """
    on_disk = {p.id: p for p in current.stages}
    texts: dict[str, str] = {}
    for stage_id, label in record.manifest.stage_versions.items():
        prefix = label.split()[0] if label else ""
        prompt = on_disk.get(stage_id)
        if prompt is not None and prefix and prompt.content_hash.startswith(prefix):
            texts[Path(prompt.path).name] = Path(prompt.path).read_text(encoding="utf-8")
            continue
        found = _from_history(store, prefix, Path(prompt.path).name if prompt else None)
        if found is None:
            raise ConfigError(
                f"the text of stage {stage_id} (hash {prefix or 'unrecorded'}) that run "
                f"{record.id} used is neither in the prompts folder nor in the prompt version "
                "history, so blame cannot rebuild it: put that text back in the prompts folder "
                "(e.g. from git), or blame against a run planned since runs record their prompts"
            )
        texts[found[0]] = found[1]
    return texts


def _from_history(store: Engine, prefix: str, preferred: str | None) -> tuple[str, str] | None:
    """(file name, text) of a saved version whose SHA-256 starts with ``prefix``; the
    file the stage has now first, when the same text was saved under several."""
    if len(prefix) < 8:  # too short to name one text
        return None
    with Session(store) as session:
        rows = session.exec(
            select(PromptVersionRow).where(
                col(PromptVersionRow.sha256).startswith(prefix),
                col(PromptVersionRow.workspace) == store_workspace(store),
            )
        ).all()
    rows = sorted(rows, key=lambda r: (r.stage != preferred, r.number))
    return (rows[0].stage, rows[0].text) if rows else None


def write_prompt_set(texts: dict[str, str], template: Path, into: Path) -> PromptSet:
    """Write ``texts`` (an empty text: no such file) as a prompts folder at ``into``, with
    every other file of ``template`` (gates, budget, example banks) beside them, and load it.

    Raises:
        PromptError: the texts do not make a valid prompt set (named by file and line).
    """
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(template, into, ignore=shutil.ignore_patterns("*.md", ".*"))
    for name, text in texts.items():
        if text:
            (into / name).write_text(text, encoding="utf-8")
    return load_prompt_set(into)


def check_rebuilt(prompts: PromptSet, record: RunRecord, side: str) -> None:
    """Refuse texts that do not give the run's own prompt set (a bank or the order moved)."""
    if prompts.hash != record.manifest.prompt_set_hash:
        raise ConfigError(
            f"the {side}'s stage prompts rebuilt from their texts do not give run {record.id}'s "
            f"prompt set ({prompts.hash[:12]}, not {record.manifest.prompt_set_hash[:12]}): an "
            "example bank changed as well, which blame does not cut into hunks; blame two runs "
            "whose example banks are the same"
        )
