"""Prompt version history: every save of a stage prompt is a version in the store.

The file in ``prompts/`` stays the working copy (the pipeline reads it), and
the store keeps every text it ever had. Three decisions keep work from being lost:

- a save names the version it was based on; when that is no longer the latest,
  the save is refused with ``VersionConflict`` showing what changed meanwhile
  (so two tabs editing one prompt cannot overwrite each other);
- the file edited outside the workbench is recorded as a version ("changed on
  disk") the first time it is seen, before anything else is saved over it;
- a restore is a new version with an old text, so history only grows.

Versions are numbered per workspace and stage from 1; the stage is the prompt's file
name, and the workspace the store engine's (``workbench.store.store_workspace``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from workbench.diffing import DIFF_CSS, line_diff_table_html
from workbench.errors import PromptError, StoreError, VersionConflict
from workbench.markup import escape
from workbench.prompts.files import split_front_matter
from workbench.settings import Settings
from workbench.store import PromptVersionRow, as_utc, store_workspace

Origin = Literal["save", "restore", "disk"]
Validator = Callable[[str, Path], object]
"""Checks a prompt text before it is saved; raises PromptError (with a line) when it is bad."""

DISK_AUTHOR = "(edited on disk)"


@dataclass(frozen=True)
class PromptVersion:
    stage: str
    number: int
    text: str
    sha256: str
    created_at: datetime
    author: str
    message: str
    origin: Origin

    @property
    def label(self) -> str:
        return (
            f"v{self.number} · {self.created_at:%Y-%m-%d %H:%M:%S} · {self.author} · {self.message}"
        )


def stage_key(stage_file: Path) -> str:
    return Path(stage_file).name


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_prompt_text(text: str, path: Path) -> None:
    """The validation used until a richer loader is passed in: the front matter must parse."""
    split_front_matter(text, path=path)


def _now() -> datetime:
    return datetime.now(UTC)


def _value(row: PromptVersionRow) -> PromptVersion:
    return PromptVersion(
        stage=row.stage,
        number=row.number,
        text=row.text,
        sha256=row.sha256,
        created_at=as_utc(row.created_at),
        author=row.author,
        message=row.message,
        origin=row.origin,  # type: ignore[arg-type]
    )


def _workspace(session: Session) -> str:
    return store_workspace(session.get_bind())  # type: ignore[arg-type]


def _mine(session: Session) -> ColumnElement[bool]:
    """Rows of the session's workspace."""
    return col(PromptVersionRow.workspace) == _workspace(session)


def _latest_row(session: Session, stage: str) -> PromptVersionRow | None:
    statement = (
        select(PromptVersionRow)
        .where(PromptVersionRow.stage == stage, _mine(session))
        .order_by(col(PromptVersionRow.number).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def _insert(
    session: Session, stage: str, number: int, text: str, author: str, message: str, origin: Origin
) -> PromptVersionRow:
    row = PromptVersionRow(
        workspace=_workspace(session),
        stage=stage,
        number=number,
        text=text,
        sha256=sha256_text(text),
        created_at=_now(),
        author=author,
        message=message,
        origin=origin,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise VersionConflict(
            f"{stage}: version {number} was saved by someone else at the same moment; "
            "reload the prompt and apply your change again"
        ) from exc
    return row


def latest(engine: Engine, stage_file: Path) -> PromptVersion | None:
    with Session(engine) as session:
        row = _latest_row(session, stage_key(stage_file))
        return _value(row) if row else None


def sync_from_disk(engine: Engine, stage_file: Path) -> PromptVersion | None:
    """Record the file as a new version when it differs from the latest; return the latest."""
    stage = stage_key(stage_file)
    with Session(engine) as session:
        row = _latest_row(session, stage)
        if not stage_file.exists():
            return _value(row) if row else None
        text = stage_file.read_text(encoding="utf-8")
        if row is not None and row.sha256 == sha256_text(text):
            return _value(row)
        message = "first seen on disk" if row is None else "changed on disk"
        try:
            new = _insert(
                session, stage, (row.number if row else 0) + 1, text, DISK_AUTHOR, message, "disk"
            )
        except VersionConflict:
            # Another tab recorded it first; theirs is as good as ours.
            return latest(engine, stage_file)
        session.commit()
        return _value(new)


def history(engine: Engine, stage_file: Path) -> list[PromptVersion]:
    """Every version of a stage prompt, oldest first."""
    with Session(engine) as session:
        statement = (
            select(PromptVersionRow)
            .where(PromptVersionRow.stage == stage_key(stage_file), _mine(session))
            .order_by(col(PromptVersionRow.number))
        )
        return [_value(row) for row in session.exec(statement)]


def timeline(engine: Engine) -> list[PromptVersion]:
    """Every version of every stage prompt, oldest first (the points a set diff can compare)."""
    with Session(engine) as session:
        statement = (
            select(PromptVersionRow)
            .where(_mine(session))
            .order_by(col(PromptVersionRow.created_at), col(PromptVersionRow.id))
        )
        return [_value(row) for row in session.exec(statement)]


def get_version(engine: Engine, stage_file: Path, number: int) -> PromptVersion:
    with Session(engine) as session:
        statement = select(PromptVersionRow).where(
            PromptVersionRow.stage == stage_key(stage_file),
            PromptVersionRow.number == number,
            _mine(session),
        )
        row = session.exec(statement).first()
        if row is None:
            raise StoreError(f"{stage_key(stage_file)} has no version {number}")
        return _value(row)


def save_prompt(
    engine: Engine,
    settings: Settings,
    stage_file: Path,
    text: str,
    message: str,
    base_version: int | None,
    *,
    validate: Validator = check_prompt_text,
    origin: Origin = "save",
) -> PromptVersion:
    """Save ``text`` as the next version of the stage prompt and write the file.

    Args:
        base_version: the version number the edit started from (None: a new prompt, or a
            file the store has not recorded yet, whose text on disk becomes version 1 first).
        validate: raises PromptError for a bad text; then nothing is written.

    Returns:
        The new version (or the latest, unchanged, when ``text`` equals it).

    Raises:
        PromptError: the text is invalid.
        VersionConflict: ``base_version`` is not the latest; the message shows what changed.
    """
    validate(text, stage_file)
    stage = stage_key(stage_file)
    recorded = latest(engine, stage_file)
    synced = sync_from_disk(engine, stage_file)
    if base_version is None and recorded is None and synced is not None:
        base_version = synced.number  # the edit started from the file on disk, now kept
    with Session(engine) as session:
        row = _latest_row(session, stage)
        latest_number = row.number if row else None
        if latest_number != base_version:
            raise VersionConflict(_conflict_message(engine, stage_file, base_version, row))
        if row is not None and row.sha256 == sha256_text(text):
            return _value(row)
        new = _insert(
            session, stage, (latest_number or 0) + 1, text, settings.author, message.strip(), origin
        )
        try:
            write_atomically(stage_file, text)
        except OSError as exc:
            session.rollback()
            raise StoreError(f"could not write {stage_file}: {exc}; nothing was saved") from exc
        session.commit()
        return _value(new)


def restore(
    engine: Engine,
    settings: Settings,
    stage_file: Path,
    number: int,
    base_version: int | None,
    *,
    message: str = "",
) -> PromptVersion:
    """Make version ``number``'s text the latest again, as a new version."""
    old = get_version(engine, stage_file, number)
    return save_prompt(
        engine,
        settings,
        stage_file,
        old.text,
        message or f"restore version {number}",
        base_version,
        validate=lambda _text, _path: None,
        origin="restore",
    )


def _conflict_message(
    engine: Engine, stage_file: Path, base_version: int | None, row: PromptVersionRow | None
) -> str:
    stage = stage_key(stage_file)
    if row is None:
        return f"{stage}: version {base_version} no longer exists in the store; reload the prompt"
    base_text = get_version(engine, stage_file, base_version).text if base_version else ""
    when = as_utc(row.created_at)
    changes = unified_diff(
        base_text, row.text, f"version {base_version or 0} (yours)", f"version {row.number}"
    )
    return (
        f"{stage} changed while you were editing: your edit starts from version "
        f"{base_version or 0}, but version {row.number} was saved by {row.author} at "
        f"{when:%Y-%m-%d %H:%M:%S} UTC ({row.message or 'no message'}). Nothing was saved. "
        f"Reload the latest version and apply your change again. What changed meanwhile:\n"
        f"{changes}"
    )


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so readers never see half a prompt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# --- the prompt set over time -------------------------------------------------


def prompt_set_at(engine: Engine, moment: datetime) -> dict[str, str]:
    """``{stage: text}`` of every stage prompt as it was at ``moment``."""
    cutoff = as_utc(moment)
    with Session(engine) as session:
        newest = (
            select(PromptVersionRow.stage, func.max(PromptVersionRow.number).label("number"))
            .where(PromptVersionRow.created_at <= cutoff, _mine(session))
            .group_by(PromptVersionRow.stage)
            .subquery()
        )
        statement = (
            select(PromptVersionRow)
            .join(
                newest,
                (PromptVersionRow.stage == newest.c.stage)
                & (PromptVersionRow.number == newest.c.number),
            )
            .where(_mine(session))
        )
        return {row.stage: row.text for row in session.exec(statement)}


@dataclass(frozen=True)
class SetChange:
    stage: str
    kind: Literal["added", "removed", "changed"]
    before: str
    after: str

    @property
    def diff(self) -> str:
        return unified_diff(self.before, self.after, f"{self.stage} before", f"{self.stage} after")


def diff_sets(engine: Engine, earlier: datetime, later: datetime) -> list[SetChange]:
    """The stage prompts that differ between two moments (unchanged ones left out)."""
    before, after = prompt_set_at(engine, earlier), prompt_set_at(engine, later)
    changes = []
    for stage in sorted(before.keys() | after.keys()):
        old, new = before.get(stage), after.get(stage)
        if old == new:
            continue
        kind = "added" if old is None else "removed" if new is None else "changed"
        changes.append(SetChange(stage, kind, old or "", new or ""))
    return changes


# --- showing differences --------------------------------------------------------


def unified_diff(
    before: str, after: str, before_label: str = "before", after_label: str = "after"
) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        before_label,
        after_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def side_by_side_html(before: str, after: str, before_label: str, after_label: str) -> str:
    """Two columns, line by line, with changed words highlighted inside changed lines."""
    table = '<table class="wb-linediff">'
    head = (
        f"<tr><th></th><th>{escape(before_label)}</th><th></th><th>{escape(after_label)}</th></tr>"
    )
    return f"<style>{DIFF_CSS}</style>" + line_diff_table_html(before, after).replace(
        table, table + head, 1
    )


def error_excerpt(text: str, error: PromptError, context: int = 2) -> str:
    """The lines around a PromptError's line, the bad one marked with ``>``."""
    if error.line is None:
        return ""
    lines = text.splitlines()
    start = max(1, error.line - context)
    end = min(len(lines), error.line + context)
    return "\n".join(
        f"{'>' if number == error.line else ' '} {number:4} | {lines[number - 1]}"
        for number in range(start, end + 1)
    )
