"""Pipeline variants: the workspace's prompt set with stages left out, merged or swapped.

"Does this stage still pay for its latency?" and "would splitting that prompt help?" are
answered by running the pipeline without the stage, or with two stages as one, next to
the full pipeline. A variant says so as data, never as a copied folder: a small YAML
file in the prompts folder's ``variants/`` (``name``, ``description``, ``leave_out``,
``merge``, ``swap``) or the same on the command line.

- **leave out** a stage: it does not run; the next stage reads the previous one's output.
- **merge** ``[a, b]`` (adjacent, of one kind): one stage under ``a``'s front matter (id,
  order, role, mode, gate, limits), ``b``'s body appended to ``a``'s, examples and
  variables concatenated. ``b``'s mode and gate are dropped: the merged stage thinks when
  ``a`` would (the notes say when that differs).
- **swap** ``{id: file}``: the stage's prompt read from another file (relative to the
  variant file), keeping the stage's id and order so expectations still apply.

A variant that takes away what a later stage needs is refused, saying which: the SQL
stage (every verdict reads it), the SQL stage before a ``question_and_results`` stage,
and a stage another prompt cites as ``{{stage_id}}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.errors import ConfigError, PromptError
from workbench.prompts.files import (
    StagePrompt,
    load_prompt,
    stage_variables,
    variable_line,
)
from workbench.prompts.promptset import PromptSet, check_gates
from workbench.yamlfiles import line_of, parse_yaml, read_text, validate

VARIANTS_DIR = "variants"
"""The prompts folder's subfolder of variant files (never read as stages)."""


class _VariantModel(BaseModel):
    """A variant file as users write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    leave_out: tuple[str, ...] = ()
    merge: tuple[tuple[str, str], ...] = ()
    swap: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("write the name on one line")
        return value


@dataclass(frozen=True)
class PipelineVariant:
    """What a variant changes, and where it was written (for errors with file:line).

    Args:
        source: the variant file, or None for one given on the command line.
        text: the file's text, to find the line of a refused entry.
    """

    name: str
    description: str = ""
    leave_out: tuple[str, ...] = ()
    merge: tuple[tuple[str, str], ...] = ()
    swap: tuple[tuple[str, str], ...] = ()
    source: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        """What a run's manifest records: enough to show, and to apply again."""
        return {
            "name": self.name,
            "description": self.description,
            "leave_out": list(self.leave_out),
            "merge": [list(pair) for pair in self.merge],
            "swap": {stage_id: path for stage_id, path in self.swap},
            "source": self.source,
        }

    def _where(self, *loc: str | int) -> tuple[str | None, int | None]:
        if self.source is None:
            return None, None
        return self.source, line_of(self.text, list(loc))

    def refuse(self, message: str, *loc: str | int) -> PromptError:
        """An error at the variant file's line of ``loc`` (the command line's otherwise)."""
        path, line = self._where(*loc)
        if path is None:
            return PromptError(message + " (a command-line variant)")
        return PromptError(message, path=path, line=line)


@dataclass(frozen=True)
class AppliedVariant:
    """A variant's prompt set, and what the variant changed besides what it says."""

    prompts: PromptSet
    variant: PipelineVariant
    notes: tuple[str, ...] = field(default_factory=tuple)


# -- reading ---------------------------------------------------------------------------


def load_variant(path: str | Path) -> PipelineVariant:
    """Read and validate a variant file; a PromptError names the file and line."""
    path = Path(path)
    text = read_text(path, error=PromptError, what="variant file")
    data = parse_yaml(text, path=path, error=PromptError)
    model = validate(_VariantModel, data, text=text, path=path, error=PromptError, what="variant")
    return PipelineVariant(
        name=model.name,
        description=model.description,
        leave_out=model.leave_out,
        merge=model.merge,
        swap=tuple(model.swap.items()),
        source=str(path),
        text=text,
    )


def find_variant(prompts_dir: str | Path, name_or_path: str) -> PipelineVariant:
    """A variant by file path, or by name in the prompts folder's ``variants/``."""
    given = Path(name_or_path)
    if given.suffix in (".yaml", ".yml") or given.exists():
        return load_variant(given)
    folder = Path(prompts_dir) / VARIANTS_DIR
    for candidate in (folder / f"{name_or_path}.yaml", folder / f"{name_or_path}.yml"):
        if candidate.exists():
            return load_variant(candidate)
    known = sorted(v.name for v in list_variants(prompts_dir))
    raise ConfigError(
        f"no variant {name_or_path!r}: give a YAML file or a name in {folder} "
        f"(there: {', '.join(known) or 'none'})"
    )


def list_variants(prompts_dir: str | Path) -> tuple[PipelineVariant, ...]:
    """The variant files of a prompts folder, by file name."""
    folder = Path(prompts_dir) / VARIANTS_DIR
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    return tuple(load_variant(path) for path in files)


def inline_variant(
    leave_out: Sequence[str] = (),
    merge: Sequence[str] = (),
    swap: Sequence[str] = (),
    *,
    base: PipelineVariant | None = None,
) -> PipelineVariant | None:
    """A variant from ``--leave-out ID``, ``--merge A+B`` and ``--swap ID=FILE``, added to
    ``base`` (a variant file) when there is one; None when nothing is asked."""
    pairs = tuple(_split(item, "+", "--merge A+B") for item in merge)
    swaps = tuple(_split(item, "=", "--swap ID=FILE") for item in swap)
    if base is None and not (leave_out or pairs or swaps):
        return None
    if base is None:
        parts = [f"-{s}" for s in leave_out] + [f"{a}+{b}" for a, b in pairs]
        parts += [f"{s}={Path(f).name}" for s, f in swaps]
        return PipelineVariant(" ".join(parts), "", tuple(leave_out), pairs, swaps)
    return replace(
        base,
        leave_out=base.leave_out + tuple(leave_out),
        merge=base.merge + pairs,
        swap=base.swap + swaps,
    )


def variant_from_dict(data: Mapping[str, Any]) -> PipelineVariant:
    """A variant as a run's manifest recorded it (``PipelineVariant.to_dict``)."""
    swap = data.get("swap") or {}
    return PipelineVariant(
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        leave_out=tuple(data.get("leave_out") or ()),
        merge=tuple((str(a), str(b)) for a, b in data.get("merge") or ()),
        swap=tuple((str(k), str(v)) for k, v in swap.items()),
        source=data.get("source"),
        text=_read_or_empty(data.get("source")),
    )


def _read_or_empty(source: object) -> str:
    """A variant file's text for error lines (gone or unreadable: no lines)."""
    try:
        return Path(str(source)).read_text(encoding="utf-8") if source else ""
    except OSError:
        return ""


def leave_one_out(stage_id: str) -> PipelineVariant:
    """The variant without one stage (an ablation's row)."""
    return PipelineVariant(f"without {stage_id}", f"the pipeline without {stage_id}", (stage_id,))


def _split(item: str, sep: str, shape: str) -> tuple[str, str]:
    first, found, second = item.partition(sep)
    if not found or not first.strip() or not second.strip():
        raise ConfigError(f"{item!r} is not {shape}: write it as {shape}")
    return first.strip(), second.strip()


# -- applying ----------------------------------------------------------------------------


def apply_variant(prompts: PromptSet, variant: PipelineVariant) -> AppliedVariant:
    """The prompt set ``variant`` describes (its hash differs whenever a stage changes), or a
    PromptError saying what the variant takes away that a later stage needs."""
    if not (variant.leave_out or variant.merge or variant.swap):
        raise variant.refuse(
            f"variant {variant.name!r} changes nothing: give leave_out, merge or swap", "name"
        )
    stages = list(prompts.stages)
    _require_known(stages, variant)
    check_leave_out(stages, variant)
    stages = [s for s in stages if s.id not in variant.leave_out]
    notes: list[str] = []
    for index, (first, second) in enumerate(variant.merge):
        stages, note = _merge(stages, first, second, variant, index)
        notes += note
    for stage_id, file in variant.swap:
        stages = _swap(stages, stage_id, file, variant)
    check_needs(stages, variant)
    check_gates(tuple(stages), prompts.gates)
    applied = replace(prompts, stages=tuple(stages), variant=variant.to_dict())
    return AppliedVariant(applied, variant, tuple(notes))


def _require_known(stages: Sequence[StagePrompt], variant: PipelineVariant) -> None:
    ids = [s.id for s in stages]
    named = [("leave_out", i, s) for i, s in enumerate(variant.leave_out)]
    named += [("merge", i, s) for i, pair in enumerate(variant.merge) for s in pair]
    named += [("swap", s, s) for s, _ in variant.swap]
    for key, index, stage_id in named:
        if stage_id not in ids:
            raise variant.refuse(
                f"no stage {stage_id!r} in the prompt set (stages: {', '.join(ids)})", key, index
            )


def check_leave_out(stages: Sequence[StagePrompt], variant: PipelineVariant) -> None:
    """Refuse leaving out the SQL stage, or a stage a kept prompt cites as a variable."""
    gone = set(variant.leave_out)
    for index, stage_id in enumerate(variant.leave_out):
        prompt = next(s for s in stages if s.id == stage_id)
        if prompt.kind == "sql":
            raise variant.refuse(
                f"leaving out {stage_id} leaves nothing to judge: every verdict reads the SQL "
                "it writes; keep it (swap its prompt instead)",
                "leave_out",
                index,
            )
        for user in stages:
            if user.id not in gone and stage_id in stage_variables(user):
                raise variant.refuse(
                    f"leaving out {stage_id} empties {{{{{stage_id}}}}} in {_cite(user, stage_id)}; "
                    "leave that stage out too or drop the variable",
                    "leave_out",
                    index,
                )


def check_needs(stages: Sequence[StagePrompt], variant: PipelineVariant) -> None:
    """What the variant's stages read is there: an SQL stage before each stage that narrates
    the results, an earlier stage for each ``{{stage_id}}``, an SQL stage at all."""
    if not any(s.kind == "sql" for s in stages):
        raise variant.refuse("the variant has no SQL stage left: every verdict reads the SQL")
    seen: set[str] = set()
    sql_seen = False
    for prompt in stages:
        if prompt.input == "question_and_results" and not sql_seen:
            raise variant.refuse(
                f"{prompt.id} ({Path(prompt.path).name}) narrates the query result "
                "(input: question_and_results) and no SQL stage runs before it; keep one"
            )
        for name in stage_variables(prompt):
            if name not in seen:
                raise variant.refuse(
                    f"the variant empties {{{{{name}}}}} in {_cite(prompt, name)}: no stage "
                    f"{name} runs before it; keep that stage or drop the variable"
                )
        seen.add(prompt.id)
        sql_seen = sql_seen or prompt.kind == "sql"


def _cite(prompt: StagePrompt, name: str) -> str:
    line = variable_line(prompt, name)
    return f"{Path(prompt.path).name}" + (f" (line {line})" if line is not None else "")


def _merge(
    stages: list[StagePrompt], first: str, second: str, variant: PipelineVariant, index: int
) -> tuple[list[StagePrompt], list[str]]:
    """``first`` and ``second`` as one stage (see the module docstring)."""
    ids = [s.id for s in stages]
    if first not in ids or second not in ids:
        gone = first if first not in ids else second
        raise variant.refuse(
            f"cannot merge {gone}: it is left out or merged already", "merge", index
        )
    a, b = stages[ids.index(first)], stages[ids.index(second)]
    if ids.index(second) != ids.index(first) + 1:
        raise variant.refuse(
            f"cannot merge {first} with {second}: they are not next to each other "
            f"(order {a.order} and {b.order}); merge adjacent stages",
            "merge",
            index,
        )
    if a.kind != b.kind:
        raise variant.refuse(
            f"cannot merge {first} ({a.kind}) with {second} ({b.kind}): the kinds differ, and "
            "the kind decides what runs around the call; merge stages of one kind",
            "merge",
            index,
        )
    for user in stages:
        if user.id not in (first, second) and second in stage_variables(user):
            raise variant.refuse(
                f"merging {first}+{second} empties {{{{{second}}}}} in {_cite(user, second)}; "
                "drop the variable or do not merge",
                "merge",
                index,
            )
    merged = _merged_prompt(a, b)
    notes = []
    if (a.mode, a.gate) != (b.mode, b.gate):
        notes.append(
            f"{first}+{second}: the merged stage runs in {first}'s mode ({a.mode}"
            + (f", gate {a.gate}" if a.gate else "")
            + f"); {second}'s mode ({b.mode}"
            + (f", gate {b.gate}" if b.gate else "")
            + ") is dropped"
        )
    position = ids.index(first)
    return stages[:position] + [merged] + stages[position + 2 :], notes


def _merged_prompt(a: StagePrompt, b: StagePrompt) -> StagePrompt:
    variables = a.variables + tuple(v for v in b.variables if v not in a.variables and v != a.id)
    body = a.body.rstrip("\n") + "\n\n" + b.body
    digest = hashlib.sha256(f"merge\n{a.content_hash}\n{b.content_hash}\n".encode()).hexdigest()
    return replace(
        a,
        title=f"{a.title} + {b.title}",
        variables=variables,
        body=body,
        examples=a.examples + b.examples,
        example_bank=a.example_bank or b.example_bank,
        bank=a.bank or b.bank,
        max_tokens=max(a.max_tokens, b.max_tokens),
        hard=a.hard or b.hard,
        content_hash=digest,
    )


def _swap(
    stages: list[StagePrompt], stage_id: str, file: str, variant: PipelineVariant
) -> list[StagePrompt]:
    ids = [s.id for s in stages]
    if stage_id not in ids:
        raise variant.refuse(
            f"cannot swap {stage_id}: it is left out or merged away", "swap", stage_id
        )
    path = Path(file)
    if not path.is_absolute() and variant.source is not None:
        path = Path(variant.source).parent / path
    if not path.exists():
        raise variant.refuse(f"the swapped-in prompt {path} does not exist", "swap", stage_id)
    old = stages[ids.index(stage_id)]
    new = load_prompt(path)  # cites no stage: a swapped-in file is read on its own
    digest = hashlib.sha256(f"swap\n{old.id}\n{new.content_hash}\n".encode()).hexdigest()
    swapped = replace(new, id=old.id, order=old.order, content_hash=digest)
    return [swapped if s.id == stage_id else s for s in stages]
