"""The Run page (AppTest): runs against the scripted server, every error path, escaping,
the reference trace, history and the compare view."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.browser import free_port
from tests.domain import LAB_WORDS
from tests.pages.shown import fragments, notices
from tests.pipeline.test_run import LINGUISTIC, prompts_dir
from tests.scripted_server import Reply, ScriptedServer
from workbench.commands.init import STARTER
from workbench.pipeline.reference import REFERENCE_TRACE_PATH
from workbench.settings import PROJECT_ROOT
from workbench.workspace import init_workspace

ATTACK = '<script>alert(1)</script> show <img src=x onerror="alert(2)"> results'


@pytest.fixture
def server(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, scripted_server: ScriptedServer
) -> ScriptedServer:
    """The page's pipeline is the four linguistic stages, served by the scripted server."""
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(prompts_dir(tmp_path, *LINGUISTIC)))
    monkeypatch.setenv("WORKBENCH_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
    return scripted_server


def open_page() -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=60)
    page.run()
    assert not page.exception, page.exception
    return page


def run(page: AppTest, question: str, *, cache: bool = True) -> AppTest:
    """Type a question and press Run; returns once the run has finished."""
    page.text_area(key="run_question").input(question)
    page.checkbox(key="run_use_cache").set_value(cache)
    page.button(key="run_start").click().run()  # the page re-runs itself until the run ends
    assert not page.exception, page.exception
    assert "run_job" not in page.session_state
    return page


def html_values(page: AppTest) -> list[str]:
    return [m.value for m in page.markdown] + fragments(page)


def card_heads(page: AppTest) -> list[str]:
    return [v for v in html_values(page) if v.startswith('<div class="wb-card-head">')]


def test_a_run_shows_a_card_per_stage_with_its_diff(server: ScriptedServer) -> None:
    server.reply("how many abnormal CBC results")
    server.reply("Show count abnormal CBC results", reasoning=None)
    server.reply("Show count abnormal CBC results", margins=[0.2, 5.0, 5.0, 5.0, 5.0])
    server.reply("Show count abnormal CBC results")
    page = run(open_page(), "Hi! how many abnormal CBC results, thanks")
    heads = card_heads(page)
    assert len(heads) == 5  # the question, then four stages
    assert "2. Noise removal" in heads[1] and "wb-status-ok" in heads[1]
    assert "5. Miscellaneous cleanup" in heads[4]
    assert any('<del class="wb-del">how many</del>' in v for v in html_values(page))
    assert any('<ins class="wb-ins">Show count</ins>' in v for v in html_values(page))
    warnings = [w.value for w in page.warning]
    assert any("could flip between identical runs" in w for w in warnings)
    assert any("tokens" in c.value for c in page.caption)
    assert not page.error and not notices(page, "error")


def test_the_thinking_badge_and_reasoning_when_a_gate_fires(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_MODEL_THINK", "qwen3")  # a model with a thinking mode
    server.reply("a").reply("b").reply("patients involved with flu")
    server.reply("patients with flu", reasoning="drop the vague verb")
    page = run(open_page(), "patients involved with flu")
    cleanup = card_heads(page)[4]
    assert "gate gate1 switched thinking on" in cleanup
    assert any("known-problematic wording" in v for v in html_values(page))
    assert page.expander[0].label == "Reasoning"
    assert any("drop the vague verb" in v for v in html_values(page))


def test_a_model_without_a_thinking_mode_runs_without_and_the_card_says_so(
    server: ScriptedServer,
) -> None:
    server.reply("a").reply("b").reply("patients involved with flu").reply("patients with flu")
    page = run(open_page(), "patients involved with flu")  # the default: SmolLM2
    cleanup = card_heads(page)[4]
    assert "no thinking mode: ran without" in cleanup
    assert any(
        "gate gate1 asked for thinking; smollm2-135m-instruct has no thinking mode" in v
        for v in html_values(page)
    )
    assert server.chat_requests[3]["chat_template_kwargs"] == {"enable_thinking": False}


def test_server_down_shows_the_error_and_what_to_do_on_the_first_card(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    page = run(open_page(), "how many abnormal results")
    assert "LLMUnavailable" in notices(page, "error")[0]
    assert "Start it" in notices(page, "info")[0]
    heads = card_heads(page)
    assert "wb-status-failed" in heads[1]
    assert all("wb-status-skipped" in h for h in heads[2:])


def test_a_500_fails_its_own_stage_and_skips_the_rest(server: ScriptedServer) -> None:
    server.reply("how many results").reply("overloaded", status=500)
    page = run(open_page(), "how many results")
    heads = card_heads(page)
    assert "wb-status-ok" in heads[1] and "wb-status-failed" in heads[2]
    assert "LLMResponseError" in notices(page, "error")[0]
    assert "WORKBENCH_MODEL_" in notices(page, "info")[0]
    assert notices(page, "caption").count("skipped: stage 3 (Query normalizer) failed") == 2


def test_a_garbage_reply_is_an_error_on_its_card(server: ScriptedServer) -> None:
    server.reply(raw=b"<html>this is not JSON</html>")
    page = run(open_page(), "how many results")
    assert "wb-status-failed" in card_heads(page)[1]
    assert "LLMResponseError" in notices(page, "error")[0]


def test_an_empty_answer_points_at_the_prompt(server: ScriptedServer) -> None:
    server.reply("   ")
    page = run(open_page(), "how many results")
    assert "EmptyOutput" in notices(page, "error")[0]
    assert "Open this stage's prompt" in notices(page, "info")[0]


def test_the_card_shows_what_the_cleaner_dropped_and_the_raw_answer(
    server: ScriptedServer,
) -> None:
    server.reply("how many abnormal CBC results")
    server.reply("```sql\nSELECT count(*) FROM labs\n```\nOutput: Show count abnormal CBC results")
    server.reply("Show count abnormal CBC results").reply("Show count abnormal CBC results")
    page = run(open_page(), "hi, how many abnormal CBC results?")
    assert "cleaner dropped text" in card_heads(page)[2]
    assert "cleaner" not in card_heads(page)[1] + card_heads(page)[3]
    (note,) = [n for n in notices(page, "caption") if "The cleaner" in n]
    assert "dropped 3 lines" in note
    raw = next(e for e in page.expander if e.label == "The model's raw answer")
    assert "SELECT count(*) FROM labs" in raw.text[0].value


def test_a_question_with_markup_shows_as_text(server: ScriptedServer) -> None:
    server.reply(ATTACK).reply(ATTACK + " now").reply("x").reply("y")
    page = run(open_page(), ATTACK)
    shown = [v for v in html_values(page) if "alert(" in v]
    assert len(shown) >= 3  # the question card and the diffs of the stages that echo it
    for value in shown:
        assert "<script" not in value and "<img" not in value
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in value or "&lt;img" in value
    assert not page.exception


def test_an_empty_question_is_refused_on_the_page(server: ScriptedServer) -> None:
    page = open_page()
    page.button(key="run_start").click().run()
    assert "question is empty" in notices(page, "error")[0]
    assert "run_job" not in page.session_state


def test_the_reference_is_shown_when_no_server_answers(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    page = open_page()
    assert "The paper's reference, not a live run" in page.info[0].value
    heads = card_heads(page)
    assert len(heads) == 8 and "7. Narrative answer" in heads[-1]
    assert "gate gate2 switched thinking on" in heads[6]
    assert "HAVING   COUNT(*) &gt;= 3" not in "".join(heads)
    assert any("HAVING" in c.value for c in page.code)
    table = page.dataframe[0].value
    assert list(table["abnormal_cbc_count"]) == [12, 8, 6, 4, 3]


def test_the_reference_on_demand_when_a_server_is_up(server: ScriptedServer) -> None:
    page = open_page()
    assert not card_heads(page)
    page.button(key="run_reference").click().run()
    assert "The paper's reference" in page.info[0].value
    assert len(card_heads(page)) == 8


def test_a_workspace_never_shows_the_demo_s_worked_example(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = init_workspace(tmp_path / "music", STARTER)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(made.root))
    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    page = open_page()
    assert not card_heads(page) and not page.info[0].value.startswith("**The paper")
    assert [b.key for b in page.button if b.key == "run_reference"] == []
    assert page.text_area(key="run_question").placeholder == "Ask music's database something…"
    html = "".join(html_values(page))
    assert not LAB_WORDS.search(html), LAB_WORDS.findall(html)


def test_a_workspace_shows_its_own_worked_example(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = init_workspace(tmp_path / "music", STARTER)
    shutil.copy(REFERENCE_TRACE_PATH, made.root / "reference_trace.json")
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(made.root))
    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    page = open_page()
    assert "The workspace's worked example, not a live run" in page.info[0].value
    assert len(card_heads(page)) == 8


def test_history_reopens_an_earlier_run(server: ScriptedServer) -> None:
    server.respond_with(lambda body: Reply(content="answer to " + body["messages"][-1]["content"]))
    page = run(open_page(), "first question")
    page = run(page, "second question")
    assert any("second question" in v for v in html_values(page) if "Question" in v)
    assert len(page.selectbox(key="history_pick").options) == 2
    pick = page.selectbox(key="history_pick")
    pick.set_value(next(s for s in _summaries(page) if s.question == "first question")).run()
    page.button(key="history_open").click().run()
    assert not page.exception, page.exception
    questions = [v for v in html_values(page) if "<b>Question</b>" in v]
    assert "first question" in questions[0]


def _summaries(page: AppTest) -> list:
    from workbench.pipeline.trace import recent_traces
    from workbench.settings import load_settings
    from workbench.store import open_store

    return recent_traces(open_store(load_settings()))


def test_compare_locates_where_two_runs_part_ways(server: ScriptedServer) -> None:
    server.reply("count abnormal results").reply("Show count abnormal results")
    server.reply("Show count abnormal results").reply("Show count abnormal results")
    page = run(open_page(), "how many abnormal results", cache=False)
    server.reply("count abnormal results").reply("Show the count of abnormal results")
    server.reply("Show the count of abnormal results").reply("Show the count of abnormal results")
    page = run(page, "how many abnormal results", cache=False)
    text = " ".join(v for v in html_values(page))
    assert "The runs part ways at <b>stage 3 (Query normalizer)</b>, word 2." in text
    assert "differs on the same input" in text
    assert "differs because its input differed" in text
    assert any('<ins class="wb-ins">the</ins>' in v for v in html_values(page))


def test_compare_a_run_with_the_reference(server: ScriptedServer) -> None:
    server.reply("a").reply("b").reply("c").reply("d")
    page = run(open_page(), "how many abnormal results")
    run_id = page.selectbox(key="compare_a").value
    assert page.selectbox(key="compare_b").value == "paper-worked-example"
    page.selectbox(key="compare_a").set_value("paper-worked-example")
    page.selectbox(key="compare_b").set_value(run_id).run()
    assert not page.exception, page.exception
    text = " ".join(html_values(page))
    assert "The runs part ways at <b>stage 1 (Date normalization)</b>" in text
    assert "only run A has an output" in text


# -- the SQL stage: needs the SQL check, the executor and the demo database ---------------

SQL_STAGES = ("05_cleanup.md", "06_sql.md", "07_narrative.md")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the demo database, built once for this module."""
    pytest.importorskip("workbench.sql.execute")
    database = pytest.importorskip("workbench.sql.demo")
    from workbench.settings import Settings

    directory = tmp_path_factory.mktemp("demo-data")
    database.ensure_demo_database(Settings(data_dir=directory))
    return directory


@pytest.fixture
def sql_server(
    tmp_path: Path, data_dir: Path, demo_dir: Path, server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> ScriptedServer:  # fmt: skip
    """The cleanup, SQL and narrative stages against the demo database."""
    import shutil

    shutil.copytree(demo_dir, data_dir, dirs_exist_ok=True)
    (tmp_path / "sql").mkdir()
    folder = prompts_dir(tmp_path / "sql", *SQL_STAGES)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    return server


def test_sql_result_and_answer(sql_server: ScriptedServer) -> None:
    sql_server.reply("count results").reply("SELECT COUNT(*) AS n FROM results")
    sql_server.reply("There are <b>many</b> results.")
    page = run(open_page(), "count results")
    heads = card_heads(page)
    assert [("wb-status-ok" in h) for h in heads[1:]] == [True, True, True]
    assert any("SELECT COUNT(*) AS n FROM results" in c.value for c in page.code)
    assert list(page.dataframe[0].value.columns) == ["n"]
    answers = [v for v in html_values(page) if "There are" in v]
    assert answers and all("&lt;b&gt;many&lt;/b&gt;" in v for v in answers)


def test_refused_sql_fails_the_sql_card(sql_server: ScriptedServer) -> None:
    sql_server.reply("copy the results").reply("SELECT * INTO copy FROM results")
    page = run(open_page(), "copy the results")
    heads = card_heads(page)
    assert "wb-status-ok" in heads[1] and "wb-status-failed" in heads[2]
    assert "wb-status-skipped" in heads[3]
    assert "SQLRefused" in notices(page, "error")[0] and "INTO" in notices(page, "error")[0]
    assert "Only one read-only query" in notices(page, "info")[0]
    assert "Result" not in [h.value for h in page.subheader]


def test_sql_that_does_not_parse_fails_the_sql_card(sql_server: ScriptedServer) -> None:
    sql_server.reply("count results").reply("SELECT count( FROM results")
    page = run(open_page(), "count results")
    assert "wb-status-failed" in card_heads(page)[2]
    assert "SQLParseError" in notices(page, "error")[0]
    assert "does not parse" in notices(page, "info")[0]
    assert any("SELECT count( FROM results" in c.value for c in page.code)


# -- links from other pages (the Smoke page's trace and compare columns) ------------------


def _stored(question: str, output: str, *, minutes: int) -> str:
    """Store a trace whose stage 6 says ``output``, started ``minutes`` after midnight."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from tests.pipeline.test_trace import make_trace
    from workbench.pipeline.trace import save_trace
    from workbench.settings import load_settings
    from workbench.store import open_store

    started = datetime(2026, 3, 31, tzinfo=UTC) + timedelta(minutes=minutes)
    trace = make_trace(question, started=started)
    stages = tuple(replace(s, output=output) if s.order == 6 else s for s in trace.stages)
    return save_trace(open_store(load_settings()), replace(trace, stages=stages))


def test_a_compare_link_picks_its_two_runs_even_when_they_are_old(server: ScriptedServer) -> None:
    a_id = _stored("linked question", "Show count results", minutes=0)
    b_id = _stored("linked question", "Show the count of results", minutes=1)
    for n in range(31):  # newer runs push the linked pair out of the recent list
        _stored(f"newer {n}", "x", minutes=10 + n)
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=60)
    page.query_params["a"], page.query_params["b"] = a_id, b_id
    page.run()
    assert not page.exception, page.exception
    assert (page.selectbox(key="compare_a").value, page.selectbox(key="compare_b").value) == (
        a_id,
        b_id,
    )
    text = " ".join(html_values(page))
    assert "The runs part ways at <b>stage 6" in text


def test_a_link_to_an_unknown_run_says_so_and_keeps_the_page(server: ScriptedServer) -> None:
    _stored("one", "a", minutes=0)
    _stored("two", "b", minutes=1)
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=60)
    page.query_params["a"], page.query_params["b"] = "gone-1", "gone-2"
    page.query_params["trace"] = "gone-3"
    page.run()
    assert not page.exception, page.exception
    warnings = " ".join(notices(page, "warning"))
    assert "gone-1, gone-2 is not in this store" in warnings
    assert "The linked run could not be opened" in warnings and "gone-3" in warnings


def test_a_trace_link_opens_that_run(server: ScriptedServer) -> None:
    wanted = _stored("the linked one", "Show linked", minutes=0)
    _stored("another", "Show other", minutes=1)
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=60)
    page.query_params["trace"] = wanted
    page.run()
    assert not page.exception, page.exception
    questions = [v for v in html_values(page) if "<b>Question</b>" in v]
    assert "the linked one" in questions[0]
