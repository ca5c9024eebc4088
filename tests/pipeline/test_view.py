"""Stage cards: what each card says, the margin flag, advice for errors, and escaping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.test_run import LINGUISTIC, prompts_dir
from workbench.pipeline.reference import load_reference_trace
from workbench.pipeline.trace import DateSpanTrace, StageParameters, StageTrace
from workbench.pipeline.view import (
    ADVICE,
    LOW_MARGIN_NATS,
    endpoint_status,
    error_advice,
    prompt_paths,
    question_html,
    stage_card,
    stage_cards,
)
from workbench.prompts.gates import GateDecision
from workbench.settings import Settings

ATTACK = '<script>alert(1)</script> and <img src=x onerror="alert(2)">'


def rewrite(**kwargs: object) -> StageTrace:
    fields = dict(stage_id="query", title="Query normalizer", order=3, kind="rewrite",
                  input="how many abnormal results", output="count abnormal results",
                  called_model=True, model="m-main")  # fmt: skip
    fields.update(kwargs)
    return StageTrace(**fields)  # type: ignore[arg-type]


def params(thinking: bool) -> StageParameters:
    return StageParameters("m", 0.0, 0, 256, (), None, thinking, None, True)


def test_a_rewrite_card_shows_the_word_diff_of_input_to_output() -> None:
    card = stage_card(rewrite())
    assert card.body == "diff" and card.status == "ok"
    assert '<del class="wb-del">how many</del>' in card.body_html
    assert '<ins class="wb-ins">count</ins>' in card.body_html
    assert "3. Query normalizer" in card.header_html and "m-main" in card.header_html


def test_the_gate_badge_and_the_rules_that_fired() -> None:
    gate = GateDecision("gate1", True, "think", ("many filters: 6 filterable elements > 4",))
    card = stage_card(rewrite(mode="gated", gate=gate, parameters=params(True)))
    assert card.thinking and card.mode_label == "thinking"
    assert "gate gate1 switched thinking on" in card.header_html
    assert "many filters: 6 filterable elements &gt; 4" in card.fired_html
    quiet = stage_card(rewrite(mode="gated", gate=GateDecision("gate1", False, "main"),
                               parameters=params(False)))  # fmt: skip
    assert not quiet.thinking and "switched" not in quiet.header_html
    assert quiet.fired_html == ""


@pytest.mark.parametrize(
    ("margin", "low"),
    [(None, False), (0.0, True), (LOW_MARGIN_NATS - 0.01, True), (LOW_MARGIN_NATS, False)],
)
def test_low_margins_are_flagged(margin: float | None, low: bool) -> None:
    assert stage_card(rewrite(min_margin=margin, min_margin_index=2)).margin_low is low


def test_metrics_say_cached_instead_of_a_latency() -> None:
    fresh = stage_card(rewrite(latency_s=1.234, prompt_tokens=1200, completion_tokens=9))
    assert fresh.metrics == "1.23 s · 1,200 → 9 tokens"
    cached = stage_card(rewrite(cached=True, prompt_tokens=1200, completion_tokens=9))
    assert cached.metrics.startswith("cached ·") and "cached" in cached.header_html
    assert stage_card(rewrite()).metrics == ""


def test_a_stage_a_quick_check_reused_says_from_which_run() -> None:
    card = stage_card(rewrite(reused_from="smoke run 20260331-1015-ab12", prompt_tokens=12))
    assert card.metrics.startswith("reused ·")
    assert "reused from smoke run 20260331-1015-ab12" in card.header_html
    assert "reused" not in stage_card(rewrite(latency_s=1.0)).header_html


def test_a_card_says_when_the_cleaner_dropped_text_from_the_answer() -> None:
    raw = "```\nInput: how many abnormal results\nOutput: count abnormal results\n```"
    card = stage_card(rewrite(raw_output=raw))
    assert "cleaner dropped text" in card.header_html
    assert card.dropped_lines == 3 and card.raw_output == raw
    assert card.cleaner_note is not None and "kept one line" in card.cleaner_note
    assert "dropped 3 lines" in card.cleaner_note
    plain = stage_card(rewrite())
    assert plain.cleaner_note is None and "cleaner" not in plain.header_html


@pytest.mark.parametrize("kind", sorted(ADVICE))
def test_every_known_error_gets_advice(kind: str) -> None:
    card = stage_card(rewrite(output=None, error="it broke", error_kind=kind))
    assert card.status == "failed"
    assert card.advice == ADVICE[kind]


def test_an_unknown_error_has_no_invented_advice() -> None:
    assert error_advice(rewrite(output=None, error="odd", error_kind="Strange")) is None


def test_a_runaway_gets_advice_about_the_thinking_budget() -> None:
    stage = rewrite(output="", error="no usable text", error_kind="EmptyOutput",
                    runaway="the thinking hit the token cap")  # fmt: skip
    assert "max_thinking_tokens" in error_advice(stage)


def test_skipped_and_cancelled_stages() -> None:
    skipped = stage_card(rewrite(output=None, skipped=True, error="skipped: stage 2 failed"))
    cancelled = stage_card(rewrite(output=None, skipped=True,
                                   error="cancelled before this stage started"))  # fmt: skip
    assert (skipped.status, cancelled.status) == ("skipped", "cancelled")
    assert skipped.advice is None and "wb-muted" in skipped.body_html


def test_sql_and_narrative_cards() -> None:
    cards = stage_cards(load_reference_trace().stages)
    sql, narrative = cards[5], cards[6]
    assert sql.body == "sql" and sql.sql.startswith("SELECT ph.physician_name")
    assert sql.thinking and sql.gate == "gate2"
    assert narrative.body == "answer" and "Dr. Lisa Fontaine" in narrative.body_html
    assert [c.number for c in cards] == [1, 2, 3, 4, 5, 6, 7]


def test_dates_resolved_in_python_say_so() -> None:
    span = DateSpanTrace("this quarter", "2026-01-01", "2026-03-31",
                         "from 2026-01-01 through 2026-03-31", "python")  # fmt: skip
    card = stage_card(rewrite(kind="dates", called_model=False, date_spans=(span,),
                              unresolved_dates=("the other day",)))  # fmt: skip
    assert card.mode_label == "resolved in Python"
    assert "this quarter → from 2026-01-01 through 2026-03-31 (Python)" in card.notes_html
    assert "not resolved: the other day" in card.notes_html


def test_untrusted_text_is_escaped_everywhere() -> None:
    gate = GateDecision("gate1", True, "think", (f"known wording: {ATTACK!r}",))
    span = DateSpanTrace(ATTACK, "2026-01-01", "2026-01-02", ATTACK, "model")
    stage = rewrite(input=ATTACK, output=ATTACK + " more", gate=gate, model=ATTACK,
                    title=ATTACK, date_spans=(span,), unresolved_dates=(ATTACK,))  # fmt: skip
    card = stage_card(stage)
    narrative = stage_card(rewrite(kind="narrative", output=ATTACK))
    sql = stage_card(rewrite(kind="sql", input=ATTACK, output="SELECT 1"))
    for fragment in (card.header_html, card.fired_html, card.notes_html, card.body_html,
                     narrative.body_html, sql.body_html, question_html(ATTACK)):  # fmt: skip
        assert "<script" not in fragment and "<img" not in fragment
        assert "&lt;script&gt;" in fragment or "&lt;img" in fragment


def test_prompt_paths_map_stage_ids_to_files(tmp_path: Path, data_dir: Path) -> None:
    folder = prompts_dir(tmp_path, *LINGUISTIC)
    paths = prompt_paths(Settings(data_dir=data_dir, prompts_dir=folder))
    assert paths == {
        "noise_removal": folder / "02_noise.md",
        "query_normalizer": folder / "03_query.md",
        "reference_normalizer": folder / "04_reference.md",
        "misc_cleanup": folder / "05_cleanup.md",
    }
    (folder / "06_bad.md").write_text("no front matter")
    assert prompt_paths(Settings(data_dir=data_dir, prompts_dir=folder)) == {}


def test_endpoint_status_asks_the_server(scripted_server, data_dir: Path) -> None:
    up = endpoint_status(Settings(data_dir=data_dir, base_url=scripted_server.base_url,
                                  model_think="m-think"))  # fmt: skip
    assert up.up and up.urls == (scripted_server.base_url,)
    assert dict(up.models)["think"] == "m-think"
    down = endpoint_status(Settings(data_dir=data_dir, base_url="http://127.0.0.1:9/v1"))
    assert not down.up and "not answering" in down.summary
