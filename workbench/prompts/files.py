"""Prompt files: Markdown with YAML front matter, one file per pipeline stage.

The files are the pipeline: each one is validated into a ``StagePrompt`` and the
stages run in the order their ``order`` keys give. Template variables must be
declared in the front matter so that a typo in ``{{schema}}`` fails when the file is
loaded, with its line, rather than reaching the model as literal braces.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.errors import PromptError
from workbench.llm import Message
from workbench.prompts.bank import Bank, BankRef, load_bank, nearest
from workbench.settings import ModelRole
from workbench.yamlfiles import line_of, parse_yaml, read_text, validate


@dataclass(frozen=True)
class PromptText:
    """A prompt file split into its parts, before validation."""

    front_matter: dict
    front_matter_text: str
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
            meta = parse_yaml(raw, path=path, error=PromptError, first_line=2) or {}
            if not isinstance(meta, dict):
                raise PromptError("front matter must be a YAML mapping", path=str(path), line=2)
            return PromptText(
                front_matter=meta,
                front_matter_text=raw,
                body="".join(lines[index + 1 :]),
                body_start_line=index + 2,
            )
    raise PromptError(
        "front matter is never closed: add a '---' line after it", path=str(path), line=1
    )


# -- validated stage prompts ------------------------------------------------------------

StageKind = Literal["dates", "rewrite", "sql", "narrative"]
StageMode = Literal["no_think", "think", "gated"]
StageInput = Literal["previous", "question_and_results"]

TEMPLATE_VARIABLES: dict[str, str] = {
    "as_of": "the pinned reference date, YYYY-MM-DD",
    "as_of_weekday": "the weekday name of the reference date",
    "schema": "the target database's tables, columns, keys and values (or the workspace's schema.md)",
    "schema_sql": "the same as CREATE TABLE statements, values in comments (or the schema.md)",
    "question": "the original question, as the user typed it",
}
"""Every ``{{variable}}`` a prompt body may use, with what the pipeline fills in."""
SCHEMA_VARIABLES = frozenset({"schema", "schema_sql"})
"""The variables that describe the target database (a stage using one needs it)."""

TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A ``{{variable}}`` in a prompt body, loosely, so that a misspelt one is caught too."""
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


class PromptExample(BaseModel):
    """One worked example of a stage, sent as an earlier user turn and the assistant's answer
    to it, before the real input (few-shot as turns: a small model answers the last turn,
    where an example inside the system text is often copied as the answer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str = Field(min_length=1)
    output: str = Field(min_length=1)


class FrontMatter(BaseModel):
    """The front matter of a stage prompt file, as users write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    order: int
    kind: StageKind = "rewrite"
    role: ModelRole = "main"
    mode: StageMode = "no_think"
    gate: str | None = None
    think_role: ModelRole | None = None
    prefill: str | None = None
    max_tokens: int = Field(default=512, ge=1, le=32_768)
    max_thinking_tokens: int | None = Field(default=None, ge=1, le=65_536)
    stop: tuple[str, ...] = ()
    hard: bool = False
    budget_profile: str | None = None
    input: StageInput = "previous"
    variables: tuple[str, ...] = ()
    examples: tuple[PromptExample, ...] = ()
    example_bank: BankRef | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use lowercase letters, digits, '-' or '_', starting with a letter")
        return value

    @model_validator(mode="after")
    def _check_gate(self) -> FrontMatter:
        if self.mode == "gated" and not self.gate:
            raise ValueError("mode 'gated' needs a 'gate' (a gate name from prompts/gates.yaml)")
        if self.mode != "gated" and (self.gate or self.think_role):
            raise ValueError("'gate' and 'think_role' only apply to mode 'gated'")
        return self


@dataclass(frozen=True)
class StagePrompt:
    """One validated stage of the pipeline, built from its prompt file."""

    id: str
    title: str
    order: int
    kind: StageKind
    role: ModelRole
    mode: StageMode
    gate: str | None
    think_role: ModelRole | None
    prefill: str | None
    max_tokens: int
    max_thinking_tokens: int | None
    stop: tuple[str, ...]
    hard: bool
    budget_profile: str | None
    input: StageInput
    variables: tuple[str, ...]
    body: str
    path: str
    body_start_line: int
    content_hash: str
    """SHA-256 of the whole file's text: any edit, front matter included, changes it."""
    examples: tuple[PromptExample, ...] = ()
    """Worked examples, sent as earlier turns of the conversation (see ``render``)."""
    example_bank: BankRef | None = None
    bank: Bank | None = None
    """The workspace's question -> SQL pairs; the nearest few join the examples per call."""

    @property
    def thinking_role(self) -> ModelRole:
        """The role used when this stage thinks (a gated stage's think_role, else its role)."""
        return self.think_role or self.role


def parse_prompt(
    text: str, *, path: str | Path = "<prompt>", stages: Mapping[str, int] | None = None
) -> StagePrompt:
    """Validate a prompt file's text; errors name the file and line.

    Args:
        stages: the pipeline's stage ids and their ``order`` (``stage_orders``): a variable
            named after an earlier one holds that stage's output in the run. Without it only
            ``TEMPLATE_VARIABLES`` are known, so a file read on its own cannot cite a stage.
    """
    parts = split_front_matter(text, path=path)
    meta = validate(
        FrontMatter,
        parts.front_matter,
        text=parts.front_matter_text,
        path=path,
        error=PromptError,
        what="front matter",
        first_line=2,
    )
    _check_declared(meta, parts, path, stages or {})
    for offset, line in enumerate(parts.body.splitlines()):
        for match in TEMPLATE_VARIABLE.finditer(line):
            name = match.group(1)
            if name not in meta.variables:
                hint = (
                    "add it to 'variables' in the front matter"
                    if name in TEMPLATE_VARIABLES
                    else f"known variables: {', '.join(_known(meta.order, stages or {}))}"
                )
                raise PromptError(
                    f"template variable {{{{{name}}}}} is not declared; {hint}",
                    path=str(path),
                    line=parts.body_start_line + offset,
                )
    bank = None
    if meta.example_bank is not None:
        bank = load_bank(Path(path).parent / meta.example_bank.file, meta.example_bank)
    return StagePrompt(
        **meta.model_dump(exclude={"examples", "example_bank"}),
        examples=meta.examples,
        example_bank=meta.example_bank,
        bank=bank,
        body=parts.body,
        path=str(path),
        body_start_line=parts.body_start_line,
        content_hash=hashlib.sha256((text + (bank.text if bank else "")).encode()).hexdigest(),
    )


def load_prompt(path: str | Path) -> StagePrompt:
    """Read and validate one prompt file."""
    path = Path(path)
    return parse_prompt(read_text(path, error=PromptError, what="prompt file"), path=path)


def load_prompts(directory: str | Path) -> tuple[StagePrompt, ...]:
    """Every ``*.md`` prompt in a directory except README.md, sorted by ``order``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PromptError(
            "the prompts directory does not exist; set WORKBENCH_PROMPTS_DIR", path=str(directory)
        )
    paths = prompt_paths(directory)
    orders = stage_orders(directory)
    prompts = [
        parse_prompt(
            read_text(path, error=PromptError, what="prompt file"), path=path, stages=orders
        )
        for path in paths
    ]
    if not prompts:
        raise PromptError("no stage prompt files (*.md) found", path=str(directory))
    for attribute in ("id", "order"):
        seen: dict[object, str] = {}
        for prompt in prompts:
            value = getattr(prompt, attribute)
            if value in seen:
                raise PromptError(
                    f"duplicate {attribute} {value!r}: also used by {seen[value]}",
                    path=prompt.path,
                    line=_front_matter_line(prompt, attribute),
                )
            seen[value] = prompt.path
    return tuple(sorted(prompts, key=lambda p: p.order))


def prompt_paths(directory: Path) -> list[Path]:
    """The stage prompt files of a directory: its ``*.md`` but README.md (subfolders, such
    as ``variants/``, are not stages)."""
    return [p for p in sorted(directory.glob("*.md")) if p.name.lower() != "readme.md"]


def stage_orders(directory: str | Path) -> dict[str, int]:
    """Each stage id of a prompts directory and its ``order``, read leniently from the front
    matter (a malformed file is its own load's error): what lets a prompt cite an earlier
    stage's output as ``{{stage_id}}``."""
    orders: dict[str, int] = {}
    for path in prompt_paths(Path(directory)):
        try:
            meta = split_front_matter(path.read_text(encoding="utf-8"), path=path).front_matter
        except (OSError, UnicodeDecodeError, PromptError):
            continue
        stage_id, order = meta.get("id"), meta.get("order")
        if isinstance(stage_id, str) and isinstance(order, int) and stage_id not in orders:
            orders[stage_id] = order
    return orders


def stage_variables(prompt: StagePrompt) -> tuple[str, ...]:
    """The variables of a prompt that name an earlier stage (its output in this run)."""
    return tuple(name for name in prompt.variables if name not in TEMPLATE_VARIABLES)


def variable_line(prompt: StagePrompt, name: str) -> int | None:
    """The file line of the first ``{{name}}`` in a prompt's body (None when unused)."""
    for offset, line in enumerate(prompt.body.splitlines()):
        if any(m.group(1) == name for m in TEMPLATE_VARIABLE.finditer(line)):
            return prompt.body_start_line + offset
    return None


def _known(order: int, stages: Mapping[str, int]) -> list[str]:
    """The variables a stage at ``order`` may declare: the fixed ones, then earlier stages."""
    earlier = sorted((o, s) for s, o in stages.items() if o < order and s not in TEMPLATE_VARIABLES)
    return sorted(TEMPLATE_VARIABLES) + [s for _, s in earlier]


def _check_declared(
    meta: FrontMatter, parts: PromptText, path: str | Path, stages: Mapping[str, int]
) -> None:
    """Every declared variable is a known one or names a stage that runs before this one."""
    line = line_of(parts.front_matter_text, ["variables"], first_line=2)
    for name in meta.variables:
        if name in TEMPLATE_VARIABLES:
            continue
        if name in stages and stages[name] >= meta.order:
            raise PromptError(
                f"template variable {name!r} names stage {name}, which runs at order "
                f"{stages[name]}, not before this one ({meta.order}): cite an earlier stage",
                path=str(path),
                line=line,
            )
        if name not in stages:
            raise PromptError(
                f"unknown template variable {name!r} in 'variables'; known: "
                f"{', '.join(_known(meta.order, stages))}",
                path=str(path),
                line=line,
            )


def worked_examples(
    prompt: StagePrompt, user: str, asked: Sequence[str] = ()
) -> tuple[tuple[str, str], ...]:
    """(input, answer) of each worked example one call sends: the prompt's own, then the
    bank entries nearest to ``user`` (none that is nearly ``user`` or a question in ``asked``)."""
    shots = tuple((e.input, e.output) for e in prompt.examples)
    if prompt.bank is None:
        return shots
    bank = prompt.bank
    return shots + tuple(
        (entry.question, bank.answer_for(entry)) for entry in nearest(bank, user, asked=asked)
    )


def render(
    prompt: StagePrompt, variables: Mapping[str, str], user: str, asked: Sequence[str] = ()
) -> tuple[Message, ...]:
    """The messages for one stage call: the body as system message, each worked example as a
    user turn and the assistant's answer, then ``user`` as the last user turn.

    Args:
        asked: the questions this call answers (the user's original question): bank entries
            that are nearly one of them are never sent as examples.

    Raises:
        PromptError: a declared variable has no value (names the variable and the file).
    """
    missing = [name for name in prompt.variables if name not in variables]
    if missing:
        raise PromptError(f"no value for template variable {{{{{missing[0]}}}}}", path=prompt.path)

    def fill(match: re.Match[str]) -> str:
        return str(variables[match.group(1)])

    system = TEMPLATE_VARIABLE.sub(fill, prompt.body).strip()
    shots = [
        message
        for question, answer in worked_examples(prompt, user, asked)
        for message in (Message("user", question), Message("assistant", answer))
    ]
    return (Message("system", system), *shots, Message("user", user))


def prompt_set_hash(prompts: Iterable[StagePrompt]) -> str:
    """One hash for the whole pipeline: changes when any stage file changes, or the order."""
    digest = hashlib.sha256()
    for prompt in prompts:
        digest.update(f"{prompt.order}:{prompt.id}:{prompt.content_hash}\n".encode())
    return digest.hexdigest()


def _front_matter_line(prompt: StagePrompt, key: str) -> int | None:
    """The line of a front matter key of a loaded prompt's file."""
    text = read_text(Path(prompt.path), error=PromptError, what="prompt file")
    return line_of(
        split_front_matter(text, path=prompt.path).front_matter_text, [key], first_line=2
    )
