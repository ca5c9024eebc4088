"""Where each counted rule sits in a prompt: its line, its rank, how far in it comes.

The budget meter counts rules; an engineer also needs to see *which* lines it counts
and where each one sits, because a model follows a rule less the later it comes in a
long prompt. Each counted rule (a list item, or a directive sentence outside a list)
is placed by the share of the body's tokens that come before it, and falls in the
first, middle or last third of the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.prompts.budget import Measures
from workbench.prompts.tokens import Tokenizer, offline_tokenizer

RuleKind = Literal["list item", "hidden rule"]
Third = Literal["early", "middle", "late"]


@dataclass(frozen=True)
class CountedRule:
    """One rule the budget counts.

    Args:
        rank: 1-based, in the order the model reads them.
        line: the line in the prompt file (front matter included).
        tokens_before: body tokens before the rule's line.
        position: ``tokens_before`` as a share of the body's tokens (0 to 1).
    """

    rank: int
    line: int
    kind: RuleKind
    text: str
    task: str
    tokens_before: int
    position: float

    @property
    def third(self) -> Third:
        if self.position < 1 / 3:
            return "early"
        return "middle" if self.position < 2 / 3 else "late"


def counted_rules(
    body: str,
    measures: Measures,
    *,
    first_line: int = 1,
    tokenizer: Tokenizer | None = None,
) -> tuple[CountedRule, ...]:
    """Every counted rule of ``body`` (measured as ``measures``), in reading order.

    Args:
        body: the prompt body that ``measures`` was taken from.
        first_line: the file line of the body's first line (as given to ``measure_body``).
    """
    count = (tokenizer or offline_tokenizer()).count
    lines = body.splitlines(keepends=True)
    text = body.strip()
    lead = len(body) - len(body.lstrip())
    total = max(count(text).tokens, 1)
    found = [(r.line, "list item", r.text) for r in measures.list_rules]
    found += [(h.line, "hidden rule", h.text) for h in measures.hidden_rules]
    found.sort(key=lambda item: item[0])
    tasks = sorted((t.line, t.title) for t in measures.tasks)
    offsets: dict[int, int] = {}
    rules = []
    for rank, (line, kind, rule_text) in enumerate(found, start=1):
        if line not in offsets:
            start = sum(len(x) for x in lines[: line - first_line])
            offsets[line] = count(body[lead:start]).tokens if start > lead else 0
        before = offsets[line]
        task = next((title for at, title in reversed(tasks) if at <= line), "")
        rules.append(
            CountedRule(
                rank=rank,
                line=line,
                kind=kind,  # type: ignore[arg-type]
                text=rule_text,
                task=task,
                tokens_before=before,
                position=min(before / total, 1.0),
            )
        )
    return tuple(rules)
