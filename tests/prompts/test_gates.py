"""Complexity gates: each shipped rule fires on what it targets and not otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.errors import PromptError
from workbench.prompts.gates import (
    Gate,
    Vocabulary,
    count_filter_elements,
    evaluate_gate,
    load_gates,
    parse_gates,
)
from workbench.settings import PROJECT_ROOT

# The worked example as it reaches the last linguistic stage and the SQL stage.
WORKED_EXAMPLE = (
    "Show count abnormal CBC results from 2026-01-01 through 2026-03-31 by physicians, "
    "sorted highest to lowest, having COVID-19 abnormal results count >= 3"
)


@pytest.fixture(scope="module")
def gates() -> dict[str, Gate]:
    return load_gates(PROJECT_ROOT / "prompts" / "gates.yaml")


def decide(gates: dict[str, Gate], name: str, text: str):
    return evaluate_gate(gates[name], text, role="main", think_role="think")


def test_both_gates_are_defined(gates: dict[str, Gate]) -> None:
    assert set(gates) == {"gate1", "gate2"}


def test_a_simple_request_stays_without_thinking(gates: dict[str, Gate]) -> None:
    for name in gates:
        decision = decide(gates, name, "Show all results for patient John Smith")
        assert (decision.thinking, decision.role, decision.fired) == (False, "main", ())


def test_the_worked_example_exceeds_the_filter_count(gates: dict[str, Gate]) -> None:
    decision = decide(gates, "gate2", WORKED_EXAMPLE)
    assert decision.thinking
    assert decision.role == "think"
    assert len(decision.fired) == 1
    # abnormal x2, CBC, the date range, COVID-19, >= 3
    assert decision.fired[0].startswith("many filters: 6 filterable elements > 4")


def test_filter_count_counts_a_range_once() -> None:
    elements = (
        ("date range", re.compile(r"from \d{4}-\d\d-\d\d through \d{4}-\d\d-\d\d")),
        ("single date", re.compile(r"\d{4}-\d\d-\d\d")),
    )
    counts = count_filter_elements("from 2026-01-01 through 2026-03-31 and 2025-05-05", elements)
    assert counts == {"date range": 1, "single date": 1}


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("Show count abnormal CBC results by physician", False),  # 2 elements
        ("Show critical TSH results for Dr. Sarah Chen at Valley Lab since 2026-01-05", True),
        ("Show count abnormal results by lab, having count >= 3, top 5", False),  # 3
        ("Show abnormal CBC and TSH results having count >= 2", False),  # 4 = N
        ("Show abnormal CBC and critical TSH results having count >= 2", True),  # 5
    ],
)
def test_filter_threshold_is_more_than_four(gates: dict[str, Gate], text: str, fires: bool) -> None:
    assert decide(gates, "gate1", text).thinking is fires


@pytest.mark.parametrize(
    "text",
    [
        "Show count results by physicians involved with COVID-19 results",
        "Show count orders by lab excluding Valley Lab",
        "Show results unless they are pending",
    ],
)
def test_gate1_known_problematic_wording(gates: dict[str, Gate], text: str) -> None:
    decision = decide(gates, "gate1", text)
    assert decision.thinking
    assert decision.fired[0].startswith("known-problematic wording:")


@pytest.mark.parametrize(
    "text",
    [
        "Show the busiest month for each lab in 2025 and how many orders",
        "Show for each physician the top test by count",
        "Show labs with turnaround compared to the average turnaround",
        "Show order count month over month for Valley Lab",
        "Show the abnormal rate of thyroid tests by physician",
        "Show patients with abnormal results on two or more different test types",
    ],
)
def test_gate2_multi_step_dependency(gates: dict[str, Gate], text: str) -> None:
    decision = evaluate_gate(gates["gate2"], text, role="main", think_role="sql_think")
    assert decision.thinking
    assert decision.role == "sql_think"
    assert any(f.startswith("multi-step dependency:") for f in decision.fired)


@pytest.mark.parametrize(
    "text",
    [
        "Show count orders by lab",
        "Show average turnaround by lab for blood work tests",
        "Show each physician with count of orders",
    ],
)
def test_gate2_single_step_requests_do_not_think(gates: dict[str, Gate], text: str) -> None:
    assert not decide(gates, "gate2", text).thinking


def test_several_rules_can_fire_together(gates: dict[str, Gate]) -> None:
    text = WORKED_EXAMPLE + ", excluding the busiest month for each lab"
    fired = decide(gates, "gate2", text).fired
    assert [f.split(":")[0] for f in fired] == [
        "many filters",
        "multi-step dependency",
        "known-problematic wording",
    ]


def test_a_bad_regex_is_a_prompt_error(tmp_path: Path) -> None:
    text = "gates:\n  g:\n    rules:\n      - name: x\n        kind: patterns\n        patterns: ['(unclosed']\n"
    with pytest.raises(PromptError, match="bad regular expression in g/x") as info:
        parse_gates(text, path="gates.yaml")
    assert info.value.line == 6


def test_unknown_keys_and_kinds_are_refused() -> None:
    with pytest.raises(PromptError, match="threshold"):
        parse_gates("gates:\n  g:\n    threshold: 3\n    rules: []\n", path="gates.yaml")
    with pytest.raises(PromptError, match="kind"):
        parse_gates("gates:\n  g:\n    rules:\n      - {name: x, kind: vibes}\n")


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PromptError) as info:
        parse_gates("gates:\n  g: [unclosed\n", path="gates.yaml")
    assert info.value.path == "gates.yaml"
    assert info.value.line is not None


# -- the workspace's own words ----------------------------------------------------------

MUSIC = Vocabulary(
    tables=frozenset({"album", "track", "genre", "media_type", "invoice_line"}),
    columns=frozenset({"title", "unit_price", "billing_country"}),
    values=frozenset({"Rock", "Jazz", "Brazil", "Protected AAC audio file"}),
)
STARTER_GATES = PROJECT_ROOT / "starter" / "prompts" / "gates.yaml"


def test_the_workspace_s_values_count_as_filters() -> None:
    (rule,) = parse_gates(
        "gates:\n  g:\n    rules:\n"
        "      - {name: many filters, kind: filter_count, more_than: 2, workspace: [values]}\n"
    )["g"].rules
    text = "Show count Rock and Jazz tracks sold in Brazil as protected aac audio file"
    assert rule.evaluate(text, MUSIC) == (
        "many filters: 4 filterable elements > 2 (4 workspace values)"
    )
    assert rule.evaluate(text) is None  # without the workspace's words there is nothing to count
    assert rule.evaluate("Show count rockets in Brazilia", MUSIC) is None  # whole words only


def test_table_names_match_spaced_and_plural() -> None:
    pattern = MUSIC.pattern("tables")
    assert pattern is not None
    found = [m.group(0) for m in pattern.finditer("albums, media types and invoice lines")]
    assert found == ["albums", "media types", "invoice lines"]


def test_the_starter_gates_count_the_workspace_and_no_domain_of_ours() -> None:
    gates = load_gates(STARTER_GATES)
    assert gates["gate1"].reads_the_database and gates["gate2"].reads_the_database
    many = (
        "Show count tracks of Rock, Jazz, Blues, Metal and Latin from 2025-01-01 through 2025-12-31"
    )
    words = Vocabulary(values=frozenset({"Rock", "Jazz", "Blues", "Metal", "Latin"}))
    decision = evaluate_gate(
        gates["gate2"], many, role="main", think_role="sql_think", vocabulary=words
    )
    assert decision.thinking and decision.role == "sql_think"
    assert "1 date range, 5 workspace values" in decision.fired[0]
    plain = evaluate_gate(
        gates["gate2"],
        "Show albums by AC/DC",
        role="main",
        think_role="sql_think",
        vocabulary=words,
    )
    assert not plain.thinking


def test_a_filter_count_with_nothing_to_count_is_refused() -> None:
    with pytest.raises(PromptError, match="needs 'elements' or 'workspace'"):
        parse_gates("gates:\n  g:\n    rules:\n      - {name: x, kind: filter_count}\n")
