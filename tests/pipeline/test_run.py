"""The pipeline engine, driven by scripted model answers: the exact requests, each gate
path, each failure, cancellation and the stage cache."""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from workbench.errors import LLMTimeout, LLMUnavailable, PromptError, QuestionError
from workbench.llm.protocol import ChatRequest, Completion, Message
from workbench.pipeline.cleaner import body_examples
from workbench.pipeline.run import MAX_QUESTION_CHARS, run_pipeline
from workbench.pipeline.trace import StageTrace
from workbench.prompts.files import load_prompt, load_prompts, split_front_matter
from workbench.settings import PROJECT_ROOT, Settings
from workbench.store import open_store

AS_OF = date(2026, 3, 31)
SHIPPED = PROJECT_ROOT / "prompts"
LINGUISTIC = ("02_noise.md", "03_query.md", "04_reference.md", "05_cleanup.md")

# The worked example after date normalization, and what each later stage makes of it.
DATED = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back from 2026-01-01 through 2026-03-31 across all departments, sorted "
    "highest to lowest, and only show physicians involved with 3 or more COVID 19 related "
    "abnormal results, and ignore the normal results. Thank you."
)
NOISELESS = (
    "breakdown by physician of how many abnormal CBC results came back from 2026-01-01 through "
    "2026-03-31 across all departments, sorted highest to lowest, and only show physicians "
    "involved with 3 or more COVID 19 related abnormal results, and ignore the normal results"
)
NORMALIZED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31 across all "
    "departments, sorted highest to lowest, only physicians involved with 3 or more COVID 19 "
    "related abnormal results, and ignore the normal results"
)
REFERENCED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31 across all "
    "departments, sorted highest to lowest, having COVID-19 abnormal results count >= 3, and "
    "ignore the normal results"
)
CLEANED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31, sorted "
    "highest to lowest, having COVID-19 abnormal results count >= 3"
)


def prompts_dir(tmp_path: Path, *names: str) -> Path:
    """A prompts directory holding some of the shipped stage files and the gates."""
    directory = tmp_path / "prompts"
    directory.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SHIPPED / name, directory / name)
    shutil.copy(SHIPPED / "gates.yaml", directory / "gates.yaml")
    return directory


@pytest.fixture
def linguistic(tmp_path: Path, data_dir: Path) -> Settings:
    """Settings whose pipeline is the four linguistic stages, with distinct model names."""
    return Settings(
        data_dir=data_dir,
        prompts_dir=prompts_dir(tmp_path, *LINGUISTIC),
        model_main="m-main",
        model_think="m-think",
        model_sql_think="m-sql",
        seed=7,
    )


def system_text(name: str) -> str:
    text = (SHIPPED / name).read_text(encoding="utf-8")
    return split_front_matter(text).body.strip()


def example_turns(name: str) -> tuple[Message, ...]:
    """The shipped prompt's worked examples, as the user and assistant turns sent before the input."""
    examples = load_prompt(SHIPPED / name).examples
    assert examples, f"{name} ships worked examples"
    return tuple(
        turn
        for e in examples
        for turn in (Message("user", e.input), Message("assistant", e.output))
    )


def test_the_exact_requests_of_the_no_think_path(linguistic: Settings) -> None:
    llm = ScriptedLLM("show CBC results", "Show CBC results", "Show CBC results", "Show CBC")
    trace = run_pipeline("hi, CBC results please", environment(linguistic, llm), as_of=AS_OF)
    assert trace.status == "ok"
    assert llm.requests[0] == ChatRequest(
        model="m-main",
        messages=(
            Message("system", system_text("02_noise.md")),
            *example_turns("02_noise.md"),
            Message("user", "hi, CBC results please"),
        ),
        max_tokens=256,
        stop=(),
        thinking=False,
        prefill=None,
        seed=7,
        temperature=0.0,
        logprobs=True,
        max_thinking_tokens=None,
    )
    # Each stage reads the previous stage's output.
    assert [r.messages[-1].content for r in llm.requests] == [
        "hi, CBC results please",
        "show CBC results",
        "Show CBC results",
        "Show CBC results",
    ]
    cleanup = trace.stages[3]
    assert cleanup.gate is not None
    assert (cleanup.gate.gate, cleanup.gate.thinking, cleanup.gate.fired) == ("gate1", False, ())
    assert (cleanup.parameters.thinking, cleanup.model) == (False, "m-main")
    assert trace.stages[-1].output == "Show CBC"


def test_gate1_switches_the_cleanup_stage_to_the_thinking_model(linguistic: Settings) -> None:
    llm = ScriptedLLM(
        NOISELESS,
        NORMALIZED,
        REFERENCED,
        Completion(
            text=CLEANED,
            model="m-think",
            finish_reason="stop",
            reasoning="Drop 'across all departments'. Drop the tautology.",
            min_margin=0.02,
            min_margin_index=14,
        ),
    )
    trace = run_pipeline(DATED, environment(linguistic, llm), as_of=AS_OF)
    request = llm.requests[3]
    assert request.messages[-1].content == REFERENCED
    assert (request.model, request.thinking) == ("m-think", True)
    assert request.max_thinking_tokens == 1024
    assert request.max_tokens == 256 + 1024  # the answer keeps its room after the thinking
    assert (request.prefill, request.stop, request.temperature, request.seed) == (None, (), 0, 7)
    cleanup = trace.stages[3]
    assert cleanup.gate.thinking
    assert cleanup.gate.role == "think"
    assert cleanup.gate.fired[0].startswith("many filters:")
    assert len(cleanup.gate.fired) == 1
    assert cleanup.reasoning == "Drop 'across all departments'. Drop the tautology."
    assert (cleanup.min_margin, cleanup.min_margin_index) == (0.02, 14)
    assert cleanup.output == CLEANED
    assert [s.gate is None for s in trace.stages] == [True, True, True, False]


def test_a_gate_asking_for_thinking_on_a_model_without_it_runs_without_and_says_so(
    linguistic: Settings,
) -> None:
    qwen = "qwen2.5-coder-0.5b-instruct"  # the catalog knows it has no thinking mode
    settings = linguistic.model_copy(update={"model_think": qwen})
    llm = ScriptedLLM(NOISELESS, NORMALIZED, REFERENCED, CLEANED)
    trace = run_pipeline(DATED, environment(settings, llm), as_of=AS_OF)
    request = llm.requests[3]
    assert (request.model, request.thinking, request.max_thinking_tokens) == (qwen, False, None)
    assert request.max_tokens == 256  # no thinking budget added
    cleanup = trace.stages[3]
    assert cleanup.gate.thinking  # the gate did ask
    assert cleanup.thinking_note == (
        f"gate gate1 asked for thinking; {qwen} has no thinking mode, so it ran without"
    )
    assert all(s.thinking_note is None for s in trace.stages[:3])


def test_gate1_fires_on_problematic_wording_alone(linguistic: Settings) -> None:
    llm = ScriptedLLM("a", "b", "Show results by physicians involved with COVID-19", "done")
    trace = run_pipeline("q", environment(linguistic, llm), as_of=AS_OF)
    assert llm.requests[3].thinking
    assert trace.stages[3].gate.fired == ("known-problematic wording: 'involved with'",)


def test_a_failing_call_is_recorded_and_later_stages_are_skipped(linguistic: Settings) -> None:
    seen: list[StageTrace] = []
    llm = ScriptedLLM(
        "clean", LLMUnavailable("no model server at http://x — start one"), "never sent"
    )
    trace = run_pipeline("q", environment(linguistic, llm), as_of=AS_OF, on_stage=seen.append)
    assert trace.status == "failed"
    assert len(llm.requests) == 2
    failed = trace.stages[1]
    assert (failed.error_kind, failed.error) == (
        "LLMUnavailable",
        "no model server at http://x — start one",
    )
    assert failed.messages[-1].content == "clean"  # what was sent is kept
    assert trace.failed_stage is failed
    assert [s.skipped for s in trace.stages] == [False, False, True, True]
    assert trace.stages[2].error == "skipped: stage 3 (Query normalizer) failed"
    assert seen == list(trace.stages)


def test_an_empty_answer_is_a_stage_error(linguistic: Settings) -> None:
    trace = run_pipeline("q", environment(linguistic, ScriptedLLM("  \n ")), as_of=AS_OF)
    assert trace.stages[0].error_kind == "EmptyOutput"
    assert trace.status == "failed"


def test_an_answer_that_copies_the_prompts_example_is_a_stage_error(linguistic: Settings) -> None:
    noise = load_prompt(SHIPPED / "02_noise.md")
    (_, copied), *_ = [(e.input, e.output) for e in noise.examples] or body_examples(noise.body)
    question = "Which physicians work in the Cardiology department?"
    trace = run_pipeline(question, environment(linguistic, ScriptedLLM(copied)), as_of=AS_OF)
    stage = trace.stages[0]
    assert (stage.error_kind, stage.output) == ("EchoedExample", copied)
    assert "repeats the prompt's example" in stage.error
    assert trace.status == "failed" and trace.stages[1].skipped


def test_a_runaway_thinking_is_recorded_as_such(linguistic: Settings) -> None:
    runaway = Completion(
        text="", model="m-think", finish_reason="length", reasoning="hmm " * 50, runaway=True
    )
    llm = ScriptedLLM("a", "b", "Show results by physicians involved with X", runaway)
    trace = run_pipeline("q", environment(linguistic, llm), as_of=AS_OF)
    cleanup = trace.stages[3]
    assert cleanup.runaway == "the thinking hit the token cap"
    assert cleanup.error_kind == "EmptyOutput"
    assert "token cap" in cleanup.error


def test_looping_thinking_is_flagged_even_when_an_answer_comes(linguistic: Settings) -> None:
    loop = "so the count is abnormal results by physician and then " * 4
    llm = ScriptedLLM(
        "a", "b", "Show x involved with y",
        Completion(text="Show x", model="m-think", finish_reason="stop", reasoning=loop),
    )  # fmt: skip
    trace = run_pipeline("q", environment(linguistic, llm), as_of=AS_OF)
    assert trace.stages[3].runaway.startswith("the thinking loops: 'so the count is")
    assert trace.stages[3].error is None
    assert trace.stages[3].output == "Show x"


def test_cancel_skips_the_stages_not_yet_started(linguistic: Settings) -> None:
    cancel = threading.Event()

    def after(stage: StageTrace) -> None:
        if stage.order == 3:
            cancel.set()

    llm = ScriptedLLM("a", "b", "c", "d")
    trace = run_pipeline(
        "q", environment(linguistic, llm), as_of=AS_OF, cancel=cancel, on_stage=after
    )
    assert trace.status == "cancelled"
    assert len(llm.requests) == 2
    assert [s.skipped for s in trace.stages] == [False, False, True, True]
    assert trace.stages[2].error == "cancelled before this stage started"


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_an_empty_question_is_refused(linguistic: Settings, question: str) -> None:
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="empty"):
        run_pipeline(question, environment(linguistic, llm), as_of=AS_OF)
    assert llm.requests == []


@pytest.mark.parametrize("question", ["abnormal \udcff results", "question \ud83d only half"])
def test_a_question_that_is_not_valid_unicode_is_refused(
    linguistic: Settings, question: str
) -> None:
    """Bytes that were not UTF-8 reach Python as lone surrogates (from the shell, say)."""
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="not valid text: character 10"):
        run_pipeline(question, environment(linguistic, llm), as_of=AS_OF)
    assert llm.requests == []


def test_a_huge_question_is_refused(linguistic: Settings) -> None:
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="at most 4,000"):
        run_pipeline("x" * (MAX_QUESTION_CHARS + 1), environment(linguistic, llm), as_of=AS_OF)
    run_pipeline("x" * MAX_QUESTION_CHARS, environment(linguistic, llm.reply("a", "b", "c", "d")), as_of=AS_OF)  # fmt: skip


def test_stages_are_files_removing_one_removes_the_stage(tmp_path: Path, data_dir: Path) -> None:
    directory = prompts_dir(tmp_path, "02_noise.md", "04_reference.md")
    settings = Settings(data_dir=data_dir, prompts_dir=directory)
    trace = run_pipeline("q", environment(settings, ScriptedLLM("a", "b")), as_of=AS_OF)
    assert [(s.order, s.stage_id) for s in trace.stages] == [
        (2, "noise_removal"),
        (4, "reference_normalizer"),
    ]


def test_the_trace_is_saved_in_the_store(linguistic: Settings) -> None:
    from workbench.pipeline.trace import load_trace

    engine = open_store(linguistic)
    trace = run_pipeline(
        "q", environment(linguistic, ScriptedLLM("a", "b", "c", "d"), store=engine), as_of=AS_OF
    )
    assert load_trace(engine, trace.id) == trace


# -- the stage cache --------------------------------------------------------------------


def edit(settings: Settings, name: str, old: str, new: str) -> None:
    path = settings.prompts_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def echo_with(tag: str):
    """A responder whose answer depends on the stage's input and on its prompt."""

    def answer(request: ChatRequest) -> str:
        prompt = hashlib.sha256(request.messages[0].content.encode()).hexdigest()[:6]
        return f"{request.messages[-1].content} {tag}{prompt}"

    return answer


def test_a_rerun_is_answered_from_the_cache(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM()
    llm.responder = echo_with("+")
    first = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert len(llm.requests) == 4
    second = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert len(llm.requests) == 4
    assert [s.cached for s in second.stages] == [True] * 4
    assert [s.output for s in second.stages] == [s.output for s in first.stages]
    assert [s.latency_s for s in second.stages] == [0.0] * 4


def test_editing_stage_k_recomputes_only_k_and_later(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM()
    llm.responder = echo_with("+")
    run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    edit(linguistic, "04_reference.md", "- multiple, several -> 2 or more", "- a few -> 3 or more")
    llm.requests.clear()
    trace = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert [s.cached for s in trace.stages] == [True, True, False, False]
    assert [r.messages[0].content for r in llm.requests][0] == system_text_of(linguistic, 4)


def system_text_of(settings: Settings, order: int) -> str:
    prompt = next(p for p in load_prompts(settings.prompts_dir) if p.order == order)
    return prompt.body.strip()


def test_the_next_stage_stays_cached_when_the_edited_stage_says_the_same(
    linguistic: Settings,
) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", "b", "c", "d")
    run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    edit(linguistic, "03_query.md", "Start with the verb", "Begin with the verb")
    llm.reply("b")  # the edited stage answers as before
    trace = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert [s.cached for s in trace.stages] == [True, False, True, True]
    assert len(llm.requests) == 5


def test_errors_are_never_cached(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", LLMTimeout("took too long"))
    failed = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert failed.stages[1].error_kind == "LLMTimeout"
    llm.reply("b", "c", "d")
    trace = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert trace.status == "ok"
    assert [s.cached for s in trace.stages] == [True, False, False, False]


def test_no_cache_bypasses_reads_but_refreshes_the_cache(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", "b", "c", "d")
    run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    llm.reply("a", "b2", "c2", "d2")
    fresh = run_pipeline(
        "q", environment(linguistic, llm, store=engine), as_of=AS_OF, use_cache=False
    )
    assert [s.cached for s in fresh.stages] == [False] * 4
    assert len(llm.requests) == 8
    again = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert [s.output for s in again.stages] == ["a", "b2", "c2", "d2"]
    assert len(llm.requests) == 8


def test_another_endpoint_does_not_share_answers(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    run_pipeline(
        "q", environment(linguistic, ScriptedLLM("a", "b", "c", "d"), store=engine), as_of=AS_OF
    )
    other = ScriptedLLM("a", "b", "c", "d", endpoint="http://other/v1")
    trace = run_pipeline("q", environment(linguistic, other, store=engine), as_of=AS_OF)
    assert len(other.requests) == 4
    assert not any(s.cached for s in trace.stages)


# -- the whole pipeline: dates in Python, SQL executed, the narrative -------------------

ORIGINAL = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back this quarter across all departments, sorted highest to lowest, and "
    "only show physicians involved with 3 or more COVID 19 related abnormal results, and "
    "ignore the normal results. Thank you."
)
WORKED_SQL = """SELECT ph.physician_name,
       COUNT(*) AS abnormal_cbc_count
FROM   results r
JOIN   orders o   ON r.order_id      = o.id
JOIN   physicians ph ON o.physician_id = ph.id
JOIN   tests t    ON o.test_id      = t.id
WHERE  r.status   = 'ABNORMAL'
AND    t.test_name ILIKE '%cbc%'
AND    r.notes     ILIKE '%covid%'
AND    o.order_date >= '2026-01-01'
AND    o.order_date <  '2026-04-01'
GROUP BY ph.physician_name
HAVING   COUNT(*) >= 3
ORDER BY abnormal_cbc_count DESC;"""


@pytest.fixture
def tiny_db(tmp_path: Path) -> Path:
    """Four tables shaped like the demo database's, with a handful of rows.

    Abnormal CBC results with a COVID note in Q1 2026: Chen 4, Webb 3, Patel 2 (below the
    threshold); plus rows that must not count (a normal one, a TSH one, one from 2025).
    """
    import duckdb

    path = tmp_path / "tiny.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE physicians (id INTEGER PRIMARY KEY, physician_name VARCHAR)")
    con.execute("CREATE TABLE tests (id INTEGER PRIMARY KEY, test_name VARCHAR)")
    con.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, physician_id INTEGER, test_id INTEGER,"
        " order_date DATE)"
    )
    con.execute(
        "CREATE TABLE results (id INTEGER PRIMARY KEY, order_id INTEGER, status VARCHAR,"
        " notes VARCHAR)"
    )
    con.execute(
        "INSERT INTO physicians VALUES (1, 'Dr. Sarah Chen'), (2, 'Dr. Marcus Webb'),"
        " (3, 'Dr. Priya Patel')"
    )
    con.execute("INSERT INTO tests VALUES (1, 'CBC'), (2, 'TSH')")
    rows = (
        [(1, 1, "2026-01-10", "ABNORMAL", "COVID-19 follow-up")] * 4
        + [(2, 1, "2026-02-02", "ABNORMAL", "post-covid")] * 3
        + [(3, 1, "2026-03-30", "ABNORMAL", "covid")] * 2
        + [(1, 1, "2026-01-11", "NORMAL", "covid")]
        + [(2, 2, "2026-01-12", "ABNORMAL", "covid")]
        + [(3, 1, "2025-12-31", "ABNORMAL", "covid")]
    )
    for i, (physician, test, day, status, notes) in enumerate(rows, start=1):
        con.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", [i, physician, test, day])
        con.execute("INSERT INTO results VALUES (?, ?, ?, ?)", [i, i, status, notes])
    con.close()
    return path


@pytest.fixture
def full(tmp_path: Path, data_dir: Path) -> Settings:
    """The seven shipped stages, with distinct model names per role."""
    return Settings(
        data_dir=data_dir,
        prompts_dir=SHIPPED,
        model_main="m-main",
        model_think="m-think",
        model_sql_think="m-sql",
        seed=3,
    )


def test_the_worked_example_end_to_end(full: Settings, tiny_db: Path) -> None:
    llm = ScriptedLLM(
        NOISELESS,
        NORMALIZED,
        REFERENCED,
        CLEANED,
        Completion(
            text=f"```sql\n{WORKED_SQL}\n```",
            model="m-sql",
            finish_reason="stop",
            reasoning="Join results, orders, physicians and tests; HAVING for the threshold.",
        ),
        "- Dr. Sarah Chen: 4\n- Dr. Marcus Webb: 3",
    )
    seen: list[str] = []
    trace = run_pipeline(
        ORIGINAL,
        environment(full, llm, database=tiny_db),
        as_of=AS_OF,
        on_stage=lambda s: seen.append(s.stage_id),
    )
    assert trace.status == "ok", [s.error for s in trace.stages]
    assert seen == [
        "date_normalization", "noise_removal", "query_normalizer", "reference_normalizer",
        "misc_cleanup", "sql_generation", "narrative",
    ]  # fmt: skip

    dates = trace.stages[0]
    assert not dates.called_model  # Python resolved "this quarter" on its own
    assert [(s.source, s.start, s.end, s.resolved_by) for s in dates.date_spans] == [
        ("this quarter", "2026-01-01", "2026-03-31", "python")
    ]
    assert "came back from 2026-01-01 through 2026-03-31 across" in dates.output
    assert llm.requests[0].messages[-1].content == dates.output

    # Gate 1 fires on the filters of the reference normalizer's output.
    assert llm.requests[3].thinking and llm.requests[3].model == "m-think"
    # Gate 2 fires on the cleaned request: the SQL stage thinks on the SQL model,
    # without prefill or stop strings.
    sql_request = llm.requests[4]
    assert sql_request.messages[-1].content == CLEANED
    assert (sql_request.model, sql_request.thinking) == ("m-sql", True)
    assert (sql_request.prefill, sql_request.stop) == (None, ())
    assert sql_request.max_thinking_tokens == 2048
    system = sql_request.messages[0].content
    assert "The reference date is 2026-03-31." in system
    assert "physician_name" in system and "{{schema}}" not in system

    assert trace.sql.original == WORKED_SQL.rstrip(";")
    assert trace.sql.error is None
    assert trace.sql.formatted
    assert trace.result.columns == ("physician_name", "abnormal_cbc_count")
    assert trace.result.rows == (("Dr. Sarah Chen", 4), ("Dr. Marcus Webb", 3))
    assert trace.stages[5].reasoning.startswith("Join results")

    narrative_user = llm.requests[5].messages[-1].content
    assert narrative_user == (
        f"Question: {ORIGINAL}\n\nRows:\n(2 rows)\n"
        "physician_name | abnormal_cbc_count\nDr. Sarah Chen | 4\nDr. Marcus Webb | 3"
    )
    assert trace.narrative == "- Dr. Sarah Chen: 4\n- Dr. Marcus Webb: 3"


@pytest.mark.postgres
def test_the_worked_example_against_postgres_gives_the_papers_table(
    full: Settings, postgres_lab
) -> None:
    """The SQL path on a real PostgreSQL holding the demo data (the stages are scripted)."""
    from fixtures import labdb
    from workbench.sql import PostgresDatabase, schema_statements

    llm = ScriptedLLM(
        NOISELESS, NORMALIZED, REFERENCED, CLEANED, f"```sql\n{WORKED_SQL}\n```", "answer"
    )
    database = PostgresDatabase(postgres_lab.url)
    trace = run_pipeline(ORIGINAL, environment(full, llm, database=database), as_of=AS_OF)
    assert trace.status == "ok", [s.error for s in trace.stages]
    assert trace.sql.executed == trace.sql.original == WORKED_SQL.rstrip(";")  # natively
    assert trace.result.columns == ("physician_name", "abnormal_cbc_count")
    assert trace.result.rows == tuple(labdb.WORKED_EXAMPLE.items())  # Chen 12 … Fontaine 3
    system = llm.requests[4].messages[0].content  # the SQL stage saw PostgreSQL's schema
    assert schema_statements(database) in system and "CREATE TABLE results (" in system


def sql_only(tmp_path: Path, data_dir: Path) -> Settings:
    directory = prompts_dir(tmp_path, "06_sql.md", "07_narrative.md")
    return Settings(data_dir=data_dir, prompts_dir=directory, model_main="m-main", seed=3)


def test_a_simple_request_takes_the_prefilled_no_think_sql_path(
    tmp_path: Path, data_dir: Path, tiny_db: Path
) -> None:
    settings = sql_only(tmp_path, data_dir)
    llm = ScriptedLLM("SELECT COUNT(*) AS n FROM results\n", "There are 12 results.")
    trace = run_pipeline(
        "Show count results", environment(settings, llm, database=tiny_db), as_of=AS_OF
    )
    request = llm.requests[0]
    assert (request.thinking, request.model) == (False, "m-main")
    assert (request.prefill, request.stop, request.max_tokens) == ("```sql\n", ("```",), 512)
    assert trace.stages[0].gate.fired == ()
    assert trace.stages[0].output == "SELECT COUNT(*) AS n FROM results"
    assert trace.result.rows == ((12,),)
    assert trace.narrative == "There are 12 results."


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("I cannot help with that.", "SQLParseError"),
        ("SELECT FROM WHERE ((", "SQLParseError"),
        ("SELECT * FROM read_csv('/etc/passwd')", "SQLRefused"),
        ("SELECT missing_column FROM results", "SQLExecutionError"),
        # refused as `sql run` refuses them, never run as their SELECT part
        ("INSERT INTO results SELECT * FROM results", "SQLRefused"),
        ("CREATE TABLE copy AS SELECT * FROM results", "SQLRefused"),
        ("SELECT count(*) FROM results; DROP TABLE results;", "SQLRefused"),
        # nested too deeply for the parser: an error of the stage, not a crash of the run
        ("SELECT " + "(" * 60 + "1" + ")" * 60, "SQLParseError"),
        ("SELECT " + "ARRAY[" * 30 + "1" + "]" * 30, "SQLParseError"),
    ],
)
def test_sql_failures_are_recorded_and_the_narrative_skipped(
    tmp_path: Path, data_dir: Path, tiny_db: Path, answer: str, kind: str
) -> None:
    settings = sql_only(tmp_path, data_dir)
    llm = ScriptedLLM(answer)
    trace = run_pipeline("Show x", environment(settings, llm, database=tiny_db), as_of=AS_OF)
    sql_stage, narrative = trace.stages
    assert trace.status == "failed"
    assert sql_stage.error_kind == kind
    assert trace.sql.error_kind == kind
    assert trace.result is None
    assert narrative.skipped
    assert len(llm.requests) == 1


def test_the_model_finds_what_python_cannot_and_python_resolves_it(
    tmp_path: Path, data_dir: Path
) -> None:
    from workbench.dates.resolve import find_unresolved_hints, resolve_relative_dates

    directory = prompts_dir(tmp_path, "01_dates.md")
    settings = Settings(data_dir=data_dir, prompts_dir=directory)
    question = "Show TSH results since the holidays and lately"
    assert resolve_relative_dates(question, AS_OF).spans == ()
    assert find_unresolved_hints(question, AS_OF)
    llm = ScriptedLLM("since the holidays => since December 24 2025\nlately")
    trace = run_pipeline(question, environment(settings, llm), as_of=AS_OF)
    stage = trace.stages[0]
    assert stage.called_model
    assert llm.requests[0].messages[-1].content == question
    assert "(Tuesday, 2026-03-31)" in llm.requests[0].messages[0].content
    assert stage.output == "Show TSH results from 2025-12-24 through 2026-03-31 and lately"
    assert [(s.source, s.start, s.end, s.resolved_by, s.restated) for s in stage.date_spans] == [
        ("since the holidays", "2025-12-24", "2026-03-31", "model", "since December 24 2025")
    ]
    assert stage.unresolved_dates == ("lately",)


# -- over HTTP: the real client against the scripted OpenAI-compatible server ----------


def test_the_wire_requests_of_both_sql_paths(
    tmp_path: Path, data_dir: Path, tiny_db: Path, scripted_server
) -> None:
    from workbench.llm.pool import make_llm

    settings = Settings(
        data_dir=data_dir,
        prompts_dir=prompts_dir(tmp_path, "05_cleanup.md", "06_sql.md", "07_narrative.md"),
        base_url=scripted_server.base_url,
        model_main="m-main",
        model_think="m-think",
        model_sql_think="m-sql",
        seed=5,
        max_retries=0,
    )
    llm = make_llm(settings)
    scripted_server.reply("Show count results").reply("SELECT COUNT(*) AS n FROM results")
    scripted_server.reply("12 results.", margins=[0.05, 6.0])
    simple = run_pipeline("count results", environment(settings, llm, database=tiny_db), as_of=AS_OF)  # fmt: skip
    scripted_server.reply(CLEANED, reasoning="drop the match-all filter")
    scripted_server.reply(f"```sql\n{WORKED_SQL}\n```", reasoning="join four tables")
    scripted_server.reply("- Dr. Sarah Chen: 4")
    hard = run_pipeline(REFERENCED, environment(settings, llm, database=tiny_db), as_of=AS_OF)  # fmt: skip
    bodies = scripted_server.chat_requests
    assert len(bodies) == 6
    for body in bodies:
        assert (body["temperature"], body["seed"]) == (0.0, 5)
        assert (body["logprobs"], body["top_logprobs"]) == (True, 2)

    cleanup, sql, narrative = bodies[:3]  # nothing fired: no thinking anywhere
    assert cleanup["chat_template_kwargs"] == {"enable_thinking": False}
    assert sql["model"] == "m-main"
    assert sql["chat_template_kwargs"] == {"enable_thinking": False}
    assert sql["messages"][-1] == {"role": "assistant", "content": "```sql\n"}
    assert (sql["continue_final_message"], sql["add_generation_prompt"]) == (True, False)
    assert sql["stop"] == ["```"]
    assert "thinking_token_budget" not in sql
    assert narrative["messages"][1]["content"].startswith("Question: count results\n")
    assert simple.status == "ok"
    assert simple.stages[2].min_margin == pytest.approx(0.05)
    assert simple.stages[2].min_margin_index == 0

    cleanup, sql, narrative = bodies[3:]  # both gates fire on the worked example
    assert (cleanup["model"], cleanup["chat_template_kwargs"]) == (
        "m-think",
        {"enable_thinking": True},
    )
    assert cleanup["thinking_token_budget"] == 1024
    assert (sql["model"], sql["chat_template_kwargs"]) == ("m-sql", {"enable_thinking": True})
    assert sql["messages"][-1]["role"] == "user"
    assert "stop" not in sql and "continue_final_message" not in sql
    assert sql["max_tokens"] == 512 + 2048
    assert hard.status == "ok", [s.error for s in hard.stages]
    assert hard.stages[0].reasoning == "drop the match-all filter"
    assert hard.stages[1].reasoning == "join four tables"
    assert hard.result.rows == (("Dr. Sarah Chen", 4), ("Dr. Marcus Webb", 3))


def test_a_server_error_is_recorded_on_the_stage(
    tmp_path: Path, data_dir: Path, scripted_server
) -> None:
    from workbench.llm.pool import make_llm

    settings = Settings(
        data_dir=data_dir,
        prompts_dir=prompts_dir(tmp_path, *LINGUISTIC),
        base_url=scripted_server.base_url,
        max_retries=0,
    )
    scripted_server.reply("clean").reply("overloaded", status=500)
    trace = run_pipeline("q", environment(settings, make_llm(settings)), as_of=AS_OF)
    assert trace.stages[1].error_kind == "LLMResponseError"
    assert [s.skipped for s in trace.stages] == [False, False, True, True]


# -- the real local model ---------------------------------------------------------------


@pytest.mark.integration
def test_the_worked_example_through_the_local_model(
    local_llm_url: str, tmp_path: Path, data_dir: Path
) -> None:
    """The small model's answers are poor; the plumbing must hold: every stage either ran
    against the real server or was skipped after a recorded failure, and a re-run after
    editing the SQL prompt recomputes only the SQL stage and the narrative."""
    from workbench.llm.pool import make_llm

    directory = prompts_dir(tmp_path, *sorted(p.name for p in SHIPPED.glob("0*.md")))
    settings = Settings(data_dir=data_dir, prompts_dir=directory, base_url=local_llm_url)
    llm = make_llm(settings)
    engine = open_store(settings)
    first = run_pipeline(ORIGINAL, environment(settings, llm, store=engine), as_of=AS_OF)

    ids = [s.stage_id for s in first.stages]
    assert ids == [
        "date_normalization", "noise_removal", "query_normalizer", "reference_normalizer",
        "misc_cleanup", "sql_generation", "narrative",
    ]  # fmt: skip
    assert first.stages[0].date_spans[0].source == "this quarter"
    for stage in first.stages:
        assert stage.skipped or stage.error is not None or stage.output
        if stage.called_model and not stage.skipped and stage.error_kind != "EmptyOutput":
            assert stage.prompt_tokens > 0
            assert stage.latency_s > 0
            assert stage.parameters.temperature == 0.0
    if first.status == "failed":
        assert first.failed_stage is not None and first.failed_stage.error_kind

    reached = [s for s in first.stages if not s.skipped]
    edit(settings, "06_sql.md", "Use only the tables", "Use just the tables")
    second = run_pipeline(ORIGINAL, environment(settings, llm, store=engine), as_of=AS_OF)
    for before, after in zip(reached, second.stages, strict=False):
        if before.order < 6 and before.called_model and before.error is None:
            assert after.cached
            assert after.output == before.output
    sql_stage = second.stages[5]
    if not sql_stage.skipped:
        assert not sql_stage.cached


def test_a_stage_that_failed_after_its_call_is_not_cached(
    tmp_path: Path, data_dir: Path, tiny_db: Path
) -> None:
    settings = sql_only(tmp_path, data_dir)
    engine = open_store(settings)
    llm = ScriptedLLM("SELECT nope FROM results")
    failed = run_pipeline("Show x", environment(settings, llm, store=engine, database=tiny_db), as_of=AS_OF)  # fmt: skip
    assert failed.stages[0].error_kind == "SQLExecutionError"
    llm.reply("SELECT COUNT(*) AS n FROM results", "12.")
    trace = run_pipeline("Show x", environment(settings, llm, store=engine, database=tiny_db), as_of=AS_OF)  # fmt: skip
    assert trace.status == "ok"
    assert not trace.stages[0].cached
    assert len(llm.requests) == 3


def test_a_looping_answer_that_works_is_cached(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    loop = "Show x from " + "2023, " * 20
    llm = ScriptedLLM(loop, "b", "c", "d")
    first = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert first.stages[0].runaway.startswith("the output loops:")
    again = run_pipeline("q", environment(linguistic, llm, store=engine), as_of=AS_OF)
    assert again.stages[0].cached
    assert again.stages[0].runaway == first.stages[0].runaway
    assert len(llm.requests) == 4


def test_a_think_stage_always_thinks_on_its_role(tmp_path: Path, data_dir: Path) -> None:
    directory = prompts_dir(tmp_path, "02_noise.md")
    edit_path = directory / "02_noise.md"
    text = edit_path.read_text(encoding="utf-8").replace("mode: no_think", "mode: think")
    edit_path.write_text(text.replace("role: main", "role: think"), encoding="utf-8")
    settings = Settings(data_dir=data_dir, prompts_dir=directory, model_think="m-think")
    llm = ScriptedLLM("Show CBC results")
    trace = run_pipeline("hi, CBC results", environment(settings, llm), as_of=AS_OF)
    request = llm.requests[0]
    assert (request.model, request.thinking, request.max_thinking_tokens) == ("m-think", True, 2048)
    assert request.max_tokens == 256 + 2048
    assert trace.stages[0].gate is None


def test_a_gate_missing_from_gates_yaml_is_a_prompt_error(tmp_path: Path, data_dir: Path) -> None:
    directory = prompts_dir(tmp_path, "05_cleanup.md")
    path = directory / "05_cleanup.md"
    path.write_text(path.read_text().replace("gate: gate1", "gate: gate9"), encoding="utf-8")
    settings = Settings(data_dir=data_dir, prompts_dir=directory)
    llm = ScriptedLLM()
    with pytest.raises(PromptError, match="gate 'gate9' is not defined") as info:
        run_pipeline("q", environment(settings, llm), as_of=AS_OF)
    assert info.value.path == str(path)
    assert path.read_text().splitlines()[info.value.line - 1] == "gate: gate9"
    assert llm.requests == []
