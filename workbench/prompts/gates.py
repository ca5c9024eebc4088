"""Complexity gates: whether a late stage thinks, decided by rules in a file.

Thinking costs hundreds of times the tokens of a direct answer and can talk itself
into a loop, so it is switched on only where a question is demonstrably hard: many
SQL-filterable elements, wording known to trip the model, or an answer that needs an
intermediate result. The rules live in ``prompts/gates.yaml`` so that tuning a gate is
an edit of data, and every decision records which rules fired. A filter count may count
the workspace's own words too (its tables, columns and listed values, read from its
database), so that a gate means the same on any domain without a word list of ours.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import PromptError
from workbench.settings import ModelRole
from workbench.sql.catalog import TableInfo
from workbench.yamlfiles import parse_yaml, read_text, validate

WorkspaceTerm = Literal["tables", "columns", "values"]
"""Words of the workspace's own database a filter count can count: table names, column
names, and the values its schema lists for a column."""


class _FilterCountRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["filter_count"]
    more_than: int = Field(default=4, ge=0)
    elements: dict[str, str] = Field(default_factory=dict)
    workspace: list[WorkspaceTerm] = Field(default_factory=list)


class _PatternRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["patterns"]
    patterns: list[str] = Field(min_length=1)


class _Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = ""
    rules: list[Annotated[_FilterCountRule | _PatternRule, Field(discriminator="kind")]]


class _GatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gates: dict[str, _Gate]


@dataclass(frozen=True)
class Vocabulary:
    """The workspace's own words, read from its database: what ``workspace`` terms count."""

    tables: frozenset[str] = frozenset()
    columns: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()

    @classmethod
    def from_tables(cls, tables: Iterable[TableInfo]) -> Vocabulary:
        tables = tuple(tables)
        return cls(
            tables=frozenset(t.name for t in tables),
            columns=frozenset(c.name for t in tables for c in t.columns),
            values=frozenset(
                v for t in tables for c in t.columns for v in (c.values or ()) if len(v) > 1
            ),
        )

    def pattern(self, kind: WorkspaceTerm) -> re.Pattern[str] | None:
        """Whole words, case aside; a name's underscores also match spaces, and a trailing
        s is optional (``media_type`` matches "media types")."""
        return _words_pattern(getattr(self, kind), kind)


@functools.lru_cache(maxsize=64)
def _words_pattern(words: frozenset[str], kind: WorkspaceTerm) -> re.Pattern[str] | None:
    """One alternation for a set of words, compiled once (a gate asks for it on every call)."""
    if not words:
        return None
    forms = set()
    for word in words:
        escaped = re.escape(word)
        if kind != "values":
            escaped = escaped.replace("_", "[ _]") + "s?"
        forms.add(escaped)
    alternation = "|".join(sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class FilterCountRule:
    """Fires when the text holds more than ``more_than`` SQL-filterable elements: matches of
    its patterns, then (when ``workspace`` names them) words of the workspace's database."""

    name: str
    more_than: int
    elements: tuple[tuple[str, re.Pattern[str]], ...]
    workspace: tuple[WorkspaceTerm, ...] = ()

    def evaluate(self, text: str, vocabulary: Vocabulary | None = None) -> str | None:
        elements = self.elements
        if vocabulary is not None:
            elements += tuple(
                (f"workspace {kind}", pattern)
                for kind in self.workspace
                if (pattern := vocabulary.pattern(kind)) is not None
            )
        found = count_filter_elements(text, elements)
        total = sum(found.values())
        if total <= self.more_than:
            return None
        detail = ", ".join(f"{count} {label}" for label, count in found.items() if count)
        return f"{self.name}: {total} filterable elements > {self.more_than} ({detail})"


@dataclass(frozen=True)
class PatternRule:
    """Fires when any of its patterns matches."""

    name: str
    patterns: tuple[re.Pattern[str], ...]

    def evaluate(self, text: str, vocabulary: Vocabulary | None = None) -> str | None:
        for pattern in self.patterns:
            match = pattern.search(text)
            if match:
                return f"{self.name}: {match.group(0)!r}"
        return None


GateRule = FilterCountRule | PatternRule


@dataclass(frozen=True)
class Gate:
    name: str
    title: str
    rules: tuple[GateRule, ...]

    @property
    def reads_the_database(self) -> bool:
        """Whether a rule counts the workspace's own words (its evaluation needs them)."""
        return any(isinstance(r, FilterCountRule) and r.workspace for r in self.rules)


@dataclass(frozen=True)
class GateDecision:
    """What a gate decided for one stage input, and why."""

    gate: str
    thinking: bool
    role: ModelRole
    fired: tuple[str, ...] = ()


def count_filter_elements(
    text: str, elements: tuple[tuple[str, re.Pattern[str]], ...]
) -> dict[str, int]:
    """Count each kind of element; text matched by an earlier kind is not matched again.

    The order matters: "from 2026-01-01 through 2026-03-31" is one date range, not a
    range plus two single dates.
    """
    remaining = text
    counts: dict[str, int] = {}
    for label, pattern in elements:
        matches = list(pattern.finditer(remaining))
        counts[label] = len(matches)
        for match in matches:
            blank = " " * (match.end() - match.start())
            remaining = remaining[: match.start()] + blank + remaining[match.end() :]
    return counts


def parse_gates(text: str, *, path: str | Path = "<gates>") -> dict[str, Gate]:
    """Validate a gates file; errors name the file and, where possible, the line."""
    raw = parse_yaml(text, path=path, error=PromptError) or {}
    spec = validate(_GatesFile, raw, text=text, path=path, error=PromptError, what="gates file")
    gates: dict[str, Gate] = {}
    for name, gate in spec.gates.items():
        rules: list[GateRule] = []
        for rule in gate.rules:
            if isinstance(rule, _FilterCountRule):
                elements = tuple(
                    (label, _compile(pattern, text, path, f"{name}/{rule.name}/{label}"))
                    for label, pattern in rule.elements.items()
                )
                if not elements and not rule.workspace:
                    raise PromptError(
                        f"{name}/{rule.name}: a filter_count rule needs 'elements' or "
                        "'workspace' (tables, columns, values) to count",
                        path=str(path),
                    )
                rules.append(
                    FilterCountRule(rule.name, rule.more_than, elements, tuple(rule.workspace))
                )
            else:
                patterns = tuple(
                    _compile(p, text, path, f"{name}/{rule.name}") for p in rule.patterns
                )
                rules.append(PatternRule(rule.name, patterns))
        gates[name] = Gate(name=name, title=gate.title, rules=tuple(rules))
    return gates


def load_gates(path: str | Path) -> dict[str, Gate]:
    """Read and validate ``gates.yaml``."""
    path = Path(path)
    return parse_gates(read_text(path, error=PromptError, what="gates file"), path=path)


def evaluate_gate(
    gate: Gate,
    text: str,
    *,
    role: ModelRole,
    think_role: ModelRole,
    vocabulary: Vocabulary | None = None,
) -> GateDecision:
    """Run every rule of a gate on a stage's input; thinking when any fires.

    Args:
        vocabulary: the workspace's words, for rules that count them (without it they
            count their patterns only).
    """
    fired = tuple(
        reason for rule in gate.rules if (reason := rule.evaluate(text, vocabulary)) is not None
    )
    thinking = bool(fired)
    return GateDecision(
        gate=gate.name, thinking=thinking, role=think_role if thinking else role, fired=fired
    )


def _compile(pattern: str, text: str, path: str | Path, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        line = next((n for n, ln in enumerate(text.splitlines(), 1) if pattern[:20] in ln), None)
        raise PromptError(
            f"bad regular expression in {where}: {exc}", path=str(path), line=line
        ) from exc
