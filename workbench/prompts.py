"""Prompt files: Markdown with YAML front matter, one file per pipeline stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.errors import PromptError


@dataclass(frozen=True)
class PromptText:
    """A prompt file split into its parts, before validation."""

    front_matter: dict
    body: str
    body_start_line: int
    """1-based line number of the body's first line in the file."""


def split_front_matter(text: str, *, path: str | Path = "<prompt>") -> PromptText:
    """Split ``---``-delimited YAML front matter from the Markdown body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise PromptError(
            "a prompt file must start with a '---' line opening its YAML front matter",
            path=str(path),
            line=1,
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            raw = "".join(lines[1:index])
            try:
                meta = yaml.safe_load(raw) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 2 if mark is not None else 2
                raise PromptError(
                    f"front matter is not valid YAML: {exc}", path=str(path), line=line
                ) from exc
            if not isinstance(meta, dict):
                raise PromptError("front matter must be a YAML mapping", path=str(path), line=2)
            return PromptText(
                front_matter=meta, body="".join(lines[index + 1 :]), body_start_line=index + 2
            )
    raise PromptError(
        "front matter is never closed: add a '---' line after it", path=str(path), line=1
    )
