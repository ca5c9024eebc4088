"""A workspace's schema notes (``schema.yaml``): what the model is not shown, and what the
catalog cannot say.

::

    exclude: [customer.email, customer.phone, employee]   # never read, never shown
    describe:
      invoice.total: invoice amount in USD incl. tax
      invoice: one row per sale

Why a file and not a hand-written ``schema.md``: the tables, keys and values stay read from
the database, so they follow it, and only what a person knows is written by hand. Left-out
tables and columns are not even read (personal data stays where it is). Every name must
exist in the database: a name that does not is a typo that would leave the data in, so it
is an error naming the file and line.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from workbench.errors import WorkspaceError
from workbench.yamlfiles import line_of, parse_yaml, read_text, validate


def _name(value: str) -> str:
    value = value.strip()
    parts = value.split(".")
    if not 1 <= len(parts) <= 2 or not all(part.strip() for part in parts):
        raise ValueError(f"{value!r} is not a table or table.column name")
    return value


def _one_line(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("a description cannot be empty")
    return value


Name = Annotated[str, AfterValidator(_name)]


class _NotesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exclude: list[Name] = Field(default_factory=list)
    describe: dict[Name, Annotated[str, AfterValidator(_one_line)]] = Field(default_factory=dict)


@dataclass(frozen=True)
class SchemaNotes:
    """What a schema notes file says; ``lines`` is where each name is written."""

    exclude: frozenset[str] = frozenset()
    describe: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None
    lines: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __hash__(self) -> int:
        return hash((self.exclude, tuple(self.describe.items()), self.path))

    def check(self, names: Collection[str]) -> None:
        """Raise WorkspaceError at the first name that is not in ``names`` (the database's
        ``table`` and ``table.column`` names), or that is both left out and described."""
        for name in (*sorted(self.exclude), *self.describe):
            if name in self.exclude and name in self.describe:
                raise self._error(name, "is both excluded and described: keep one")
            table = name.split(".")[0]
            if name not in names:
                near = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.7)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                what = "column of the table" if "." in name and table in names else "table"
                raise self._error(
                    name,
                    f"names no {what} in the database{hint} (python -m workbench schema "
                    "shows what it holds)",
                )

    def _error(self, name: str, problem: str) -> WorkspaceError:
        return WorkspaceError(
            f"{name!r} {problem}",
            path=str(self.path) if self.path else None,
            line=self.lines.get(name),
        )


NO_NOTES = SchemaNotes()


def load_schema_notes(path: Path | None) -> SchemaNotes:
    """The notes in ``path``; none when it is None or the file does not exist.

    Raises:
        WorkspaceError: the file is not UTF-8 YAML of the shape above (with the line).
    """
    if path is None or not Path(path).is_file():
        return NO_NOTES
    text = read_text(path, error=WorkspaceError, what="schema notes file")
    data = parse_yaml(text, path=path, error=WorkspaceError)
    model = validate(
        _NotesFile,
        {} if data is None else data,
        text=text,
        path=path,
        error=WorkspaceError,
        what="schema notes file",
    )
    lines: dict[str, int] = {}
    for index, name in enumerate(model.exclude):
        lines.setdefault(name, line_of(text, ("exclude", index)) or 1)
    for name in model.describe:
        lines.setdefault(name, line_of(text, ("describe", name)) or 1)
    return SchemaNotes(
        frozenset(model.exclude),
        MappingProxyType(dict(model.describe)),
        Path(path),
        MappingProxyType(lines),
    )
