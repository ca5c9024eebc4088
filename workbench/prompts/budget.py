"""The prompt budget: measure a stage prompt and hold it against its limits.

A prompt keeps working until its rules pile up and it starts to "sag":
queries that used to pass fail at random. The limits known for Qwen3-32B
without thinking are few macro-tasks, a bounded number of rules and a token
band; each is measured here from the prompt file alone, so that the editor can
show them while the engineer types.

Measures are counted on the Markdown body (front matter excluded), except ``tokens``:

- ``nonblank_lines``: lines with any non-space character, fenced examples included;
- ``macro_tasks``: ``## `` headings outside fenced blocks;
- ``rules``: list items (``-``, ``*``, ``+``, ``1.``, ``1)``, nested ones included)
  outside fenced blocks, per macro-task and in total;
- ``hidden_rules``: sentences outside list items and fences that carry a
  directive word (must, never, always, do not, only, should, avoid, ensure ...);
  they are rules the list count would miss, so they count towards the rule limits;
- ``shouting``: CRITICAL, IMPORTANT and other all-caps words of four or more
  letters that are not known acronyms or SQL keywords, and ``!!``;
- ``tokens``: the body as the system message, plus the front matter's worked examples (they
  are sent as turns with every call) and, when known, what its template variables render to
  (the workspace's schema is sent with every call too), counted by a ``Tokenizer``.

The limits each measure is judged against come from ``workbench.prompts.thresholds``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from workbench.errors import PromptError
from workbench.prompts.files import TEMPLATE_VARIABLE, split_front_matter
from workbench.prompts.promptset import budget_config_for
from workbench.prompts.thresholds import (
    DEFAULT_CONFIG,
    Band,
    BudgetConfig,
    Profile,
    choose_profile,
)
from workbench.prompts.tokens import Tokenizer, offline_tokenizer

Status = Literal["ok", "warn", "over"]
MEASURES = (
    "nonblank_lines",
    "macro_tasks",
    "rules_per_task",
    "rules",
    "hidden_rules",
    "shouting",
    "tokens",
)
_RANK = {"ok": 0, "warn": 1, "over": 2}

# --- measuring --------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING2 = re.compile(r"^## +(\S.*?)\s*#*\s*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,9}[.)])\s+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
# The hyphen guards keep compounds such as "read-only" from reading as a directive.
_DIRECTIVE = re.compile(
    r"(?<!-)\b(must|never|always|do not|don't|does not|should|shouldn't|only|avoid|ensure|"
    r"make sure|required?|need to|cannot|can't|under no circumstances)\b(?!-)",
    re.IGNORECASE,
)
_CAPS_WORD = re.compile(r"(?<![\w{])[A-Z][A-Z']{3,}(?![\w}])")
_INLINE_CODE = re.compile(r"`[^`]*`")

_ACRONYMS = """
    SQL ISO JSON YAML HTML HTTP HTTPS UUID UTC ASCII UTF CSV NULL TRUE FALSE
    SELECT FROM WHERE JOIN INNER OUTER LEFT RIGHT FULL CROSS GROUP ORDER LIMIT OFFSET
    HAVING UNION EXCEPT INTERSECT WITH CASE WHEN THEN ELSE DISTINCT COUNT CAST
    INTERVAL EXTRACT BETWEEN LIKE ILIKE EXISTS COALESCE DATE TIMESTAMP DESC ASC NULLS FIRST LAST
    CREATE TABLE PRIMARY FOREIGN REFERENCES INTEGER BIGINT VARCHAR TEXT NUMERIC DOUBLE
    BOOLEAN
    YYYY CTE CTES
"""
KNOWN_ACRONYMS = frozenset(_ACRONYMS.split())
"""All-caps words that are names, not shouting (budget.yaml ``acronyms`` adds more)."""


@dataclass(frozen=True)
class TaskRules:
    """The rules under one ``## `` heading (``line`` 0 and no title: before the first)."""

    title: str
    line: int
    rules: int
    hidden_rules: int = 0

    @property
    def counted(self) -> int:
        return self.rules + self.hidden_rules


@dataclass(frozen=True)
class HiddenRule:
    line: int
    text: str
    cue: str


@dataclass(frozen=True)
class ListRule:
    """A list item counted as a rule, with its line in the file."""

    line: int
    text: str


@dataclass(frozen=True)
class Shout:
    line: int
    word: str


@dataclass(frozen=True)
class Measures:
    nonblank_lines: int
    macro_tasks: int
    tasks: tuple[TaskRules, ...]
    rules: int
    """List items only; hidden rules are in ``hidden_rules``."""
    hidden_rules: tuple[HiddenRule, ...]
    shouting: tuple[Shout, ...]
    variables: tuple[str, ...]
    tokens: int
    tokenizer: str
    list_rules: tuple[ListRule, ...] = ()
    """Every list item counted in ``rules``, in order, with its line."""
    example_tokens: int = 0
    """Of ``tokens``, those of the worked examples' turns."""
    variable_tokens: Mapping[str, int] = field(default_factory=dict)
    """Of ``tokens``, those of each template variable's rendered text (when it was known)."""

    @property
    def rules_per_task(self) -> int:
        """The largest rule count (list items and hidden rules) in one macro-task."""
        return max((task.counted for task in self.tasks), default=0)

    @property
    def rules_counted(self) -> int:
        return self.rules + len(self.hidden_rules)


def measure_body(
    body: str,
    *,
    first_line: int = 1,
    tokenizer: Tokenizer | None = None,
    acronyms: Iterable[str] = (),
    examples: Iterable[str] = (),
    rendered: Mapping[str, str] | None = None,
) -> Measures:
    """Measure a prompt body; reported lines are counted from ``first_line``.

    Args:
        examples: the texts of the worked examples' turns; they count towards ``tokens``.
        rendered: what template variables render to (the workspace's schema): each one the
            body uses counts towards ``tokens`` too, since it is sent with every call.
    """
    allowed_caps = KNOWN_ACRONYMS | {a.upper() for a in acronyms}
    nonblank = 0
    fence: str | None = None
    tasks: list[list] = [["", 0, 0, 0]]  # title, line, rules, hidden rules
    hidden: list[HiddenRule] = []
    items: list[ListRule] = []
    shouts: list[Shout] = []
    in_item = False
    blank_since_item = False
    for offset, line in enumerate(body.splitlines()):
        number = first_line + offset
        if line.strip():
            nonblank += 1
        fence_match = _FENCE.match(line)
        if fence is not None:
            marker = fence_match.group(1) if fence_match else ""
            closes = marker and marker[0] == fence[0] and len(marker) >= len(fence)
            if closes and not line.strip()[len(marker) :].strip():
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            in_item = False
            continue
        if not line.strip():
            blank_since_item = True
            continue
        prose = _INLINE_CODE.sub(" ", TEMPLATE_VARIABLE.sub(" ", line))
        shouts.extend(Shout(number, "!!") for _ in range(prose.count("!!")))
        shouts.extend(
            Shout(number, word)
            for word in _CAPS_WORD.findall(prose)
            if word.strip("'") not in allowed_caps
        )
        heading = _HEADING2.match(line)
        if heading:
            tasks.append([heading.group(1), number, 0, 0])
            in_item = False
            continue
        if _HEADING.match(line):
            in_item = False
            continue
        if _LIST_ITEM.match(line):
            tasks[-1][2] += 1
            items.append(ListRule(number, line.strip()))
            in_item, blank_since_item = True, False
            continue
        # A line right after a list item, or indented below one, continues it.
        if in_item and (not blank_since_item or line.startswith(("  ", "\t"))):
            continue
        in_item = False
        for sentence in _SENTENCE_END.split(prose.strip().lstrip("> ")):
            cue = _DIRECTIVE.search(sentence)
            if cue:
                hidden.append(HiddenRule(number, sentence.strip(), cue.group(1).lower()))
                tasks[-1][3] += 1
    task_values = [TaskRules(title, line, rules, hid) for title, line, rules, hid in tasks]
    if not task_values[0].counted and len(task_values) > 1:
        task_values = task_values[1:]
    variables = tuple(dict.fromkeys(TEMPLATE_VARIABLE.findall(body)))
    tokenizer = tokenizer or offline_tokenizer()
    count = tokenizer.count(body.strip())
    example_tokens = sum(tokenizer.count(text).tokens for text in examples)
    variable_tokens = {
        name: tokenizer.count(rendered[name]).tokens
        for name in variables
        if rendered is not None and name in rendered
    }
    return Measures(
        nonblank_lines=nonblank,
        macro_tasks=len(tasks) - 1,
        tasks=tuple(task_values),
        rules=sum(task.rules for task in task_values),
        hidden_rules=tuple(hidden),
        shouting=tuple(shouts),
        variables=variables,
        tokens=count.tokens + example_tokens + sum(variable_tokens.values()),
        tokenizer=count.tokenizer,
        list_rules=tuple(items),
        example_tokens=example_tokens,
        variable_tokens=variable_tokens,
    )


# --- judging ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    measure: str
    value: int
    status: Status
    reason: str
    warn_at: int | None = None
    over_at: int | None = None


_UNITS = {
    "nonblank_lines": "non-blank lines",
    "macro_tasks": "macro-tasks",
    "rules_per_task": "rules in the fullest macro-task",
    "rules": "rules in total",
    "hidden_rules": "hidden rules (directive sentences outside lists)",
    "shouting": "shouted words",
    "tokens": "tokens",
}


def judge(measure: str, value: int, band: Band, *, detail: str = "") -> Verdict:
    """Place one value in its band, with a sentence saying why."""
    unit = _UNITS.get(measure, measure)
    subject = f"{value:,} {unit}{f' ({detail})' if detail else ''}"
    if band.over_at is not None and value >= band.over_at:
        status: Status = "over"
        reason = f"{subject}: at or above the limit of {band.over_at:,}"
    elif band.warn_at is not None and value >= band.warn_at:
        status = "warn"
        limit = f"; over from {band.over_at:,}" if band.over_at is not None else ""
        reason = f"{subject}: at or above the warning line of {band.warn_at:,}{limit}"
    else:
        status = "ok"
        lines = [f"warn from {band.warn_at:,}"] if band.warn_at is not None else []
        lines += [f"over from {band.over_at:,}"] if band.over_at is not None else []
        reason = f"{subject}: within budget ({', '.join(lines) or 'no limit set'})"
    if band.note and status != "ok":
        reason += f"; {band.note}"
    return Verdict(measure, value, status, reason + ".", band.warn_at, band.over_at)


def evaluate(measures: Measures, profile: Profile, *, hard: bool = False) -> tuple[Verdict, ...]:
    """One verdict per measure, in the order of ``MEASURES``."""
    fullest = max(measures.tasks, key=lambda task: task.counted, default=None)
    where = ""
    if fullest is not None and fullest.title:
        where = f"'{fullest.title}', line {fullest.line}"
    hidden = len(measures.hidden_rules)
    total_detail = f"{measures.rules} list items + {hidden} hidden" if hidden else ""
    macro_band = profile.macro_tasks_hard if hard else profile.macro_tasks
    examples = measures.example_tokens
    rendered = measures.variable_tokens
    body = measures.tokens - examples - sum(rendered.values())
    parts = [f"{examples:,} in the examples"] if examples else []
    parts += [f"{n:,} in {{{{{name}}}}}" for name, n in rendered.items()]
    token_detail = f"{body:,} in the body + " + " + ".join(parts) if parts else ""
    return (
        judge("nonblank_lines", measures.nonblank_lines, profile.nonblank_lines),
        judge(
            "macro_tasks",
            measures.macro_tasks,
            macro_band,
            detail="hard task" if hard else "",
        ),
        judge("rules_per_task", measures.rules_per_task, profile.rules_per_task, detail=where),
        judge("rules", measures.rules_counted, profile.rules, detail=total_detail),
        judge("hidden_rules", hidden, profile.hidden_rules),
        judge(
            "shouting",
            len(measures.shouting),
            profile.shouting,
            detail=", ".join(dict.fromkeys(s.word for s in measures.shouting)),
        ),
        judge("tokens", measures.tokens, profile.tokens, detail=token_detail),
    )


@dataclass(frozen=True)
class PromptBudget:
    """The budget of one prompt file; ``error`` is set when the file could not be read."""

    path: str
    stage: str = ""
    profile: str = ""
    hard: bool = False
    measures: Measures | None = None
    verdicts: tuple[Verdict, ...] = ()
    error: str | None = None

    @property
    def status(self) -> Literal["ok", "warn", "over", "error"]:
        if self.error is not None:
            return "error"
        return max((v.status for v in self.verdicts), key=_RANK.__getitem__, default="ok")

    def verdict(self, measure: str) -> Verdict:
        return next(v for v in self.verdicts if v.measure == measure)

    def to_dict(self) -> dict:
        """The flat record printed by ``workbench budget --json``."""
        data: dict = {"file": self.path, "stage": self.stage, "profile": self.profile}
        if self.measures is None:
            return data | {"status": self.status, "error": self.error}
        m = self.measures
        data |= {
            "hard": self.hard,
            "nonblank_lines": m.nonblank_lines,
            "macro_tasks": m.macro_tasks,
            "rules": m.rules,
            "rules_per_task": {
                task.title or "(before the first heading)": task.counted for task in m.tasks
            },
            "hidden_rules": [asdict(h) for h in m.hidden_rules],
            "shouting": [asdict(s) for s in m.shouting],
            "variables": list(m.variables),
            "tokens": m.tokens,
            "example_tokens": m.example_tokens,
            "variable_tokens": dict(m.variable_tokens),
            "tokenizer": m.tokenizer,
            "status": {v.measure: v.status for v in self.verdicts},
            "reasons": {v.measure: v.reason for v in self.verdicts},
            "overall": self.status,
        }
        return data


def budget_text(
    text: str,
    *,
    path: str | Path = "<prompt>",
    config: BudgetConfig = DEFAULT_CONFIG,
    tokenizer: Tokenizer | None = None,
    rendered: Mapping[str, str] | None = None,
) -> PromptBudget:
    """The budget of a prompt file's text (the editor's live meter); raises PromptError.

    Args:
        rendered: what template variables render to (``{{schema_sql}}``…): counted in
            ``tokens`` where the body uses them. Without it only their names are counted.
    """
    parts = split_front_matter(text, path=path)
    meta = parts.front_matter
    profile_name = choose_profile(meta, config, path=str(path))
    hard = meta.get("hard", False)
    if not isinstance(hard, bool):
        raise PromptError(
            f"front matter key 'hard' must be true or false, not {hard!r}", path=str(path)
        )
    measures = measure_body(
        parts.body,
        first_line=parts.body_start_line,
        tokenizer=tokenizer,
        acronyms=config.acronyms,
        examples=_example_texts(meta.get("examples")),
        rendered=rendered,
    )
    return PromptBudget(
        path=str(path),
        stage=str(meta.get("id", Path(path).stem)),
        profile=profile_name,
        hard=hard,
        measures=measures,
        verdicts=evaluate(measures, config.profiles[profile_name], hard=hard),
    )


def _example_texts(examples: object) -> list[str]:
    """The input and output texts of front matter ``examples`` (a malformed entry is the prompt
    loader's error to report; the meter counts what it can read)."""
    if not isinstance(examples, list):
        return []
    return [
        text
        for example in examples
        if isinstance(example, dict)
        for text in (example.get("input"), example.get("output"))
        if isinstance(text, str)
    ]


def prompt_files(paths: Sequence[Path]) -> list[Path]:
    """Expand directories to their ``*.md`` prompt files (README.md skipped), in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.glob("*.md")) if p.name.lower() != "readme.md")
        elif path.exists():
            found.append(path)
        else:
            raise PromptError("no such prompt file or directory", path=str(path))
    return found


def budget_paths(
    paths: Sequence[Path],
    *,
    config: BudgetConfig | None = None,
    tokenizer: Tokenizer | None = None,
    rendered: Mapping[str, str] | None = None,
) -> list[PromptBudget]:
    """Budgets of prompt files; a file that cannot be read is recorded with its error.
    ``rendered``: what template variables render to (see ``budget_text``).

    Without ``config``, each file's thresholds come from the ``budget.yaml``
    beside it (the defaults when there is none).
    """
    tokenizer = tokenizer or offline_tokenizer()
    configs: dict[Path, BudgetConfig] = {}
    results = []
    for file in prompt_files(paths):
        try:
            folder = file.resolve().parent
            if config is None and folder not in configs:
                configs[folder] = budget_config_for(file)
            used = config or configs[folder]
            text = file.read_text(encoding="utf-8")
            results.append(
                budget_text(text, path=file, config=used, tokenizer=tokenizer, rendered=rendered)
            )
        except (PromptError, OSError, UnicodeDecodeError) as exc:
            results.append(PromptBudget(path=str(file), stage=file.stem, error=str(exc)))
    return results


@dataclass(frozen=True)
class BudgetPoint:
    """One stage's budget at one version (for charts over time)."""

    label: str
    budget: PromptBudget


def budget_series(
    texts: Sequence[tuple[str, str]],
    *,
    path: str = "<prompt>",
    config: BudgetConfig = DEFAULT_CONFIG,
    tokenizer: Tokenizer | None = None,
) -> list[BudgetPoint]:
    """Budgets of successive texts of one prompt; a text that fails to parse is recorded."""
    points = []
    for label, text in texts:
        try:
            budget = budget_text(text, path=path, config=config, tokenizer=tokenizer)
        except PromptError as exc:
            budget = PromptBudget(path=path, error=str(exc))
        points.append(BudgetPoint(label=label, budget=budget))
    return points
