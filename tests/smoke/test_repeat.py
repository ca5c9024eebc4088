"""Judging a repeat: on the run's database, then on the demo database's variants."""

from __future__ import annotations

from pathlib import Path

from tests.environment import environment
from tests.smoke_script import SQL, PipelineScript
from workbench.cases.suite import SmokeCase
from workbench.settings import Settings
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.sql import DuckDBDatabase, Variant
from workbench.store import open_store

QUESTION = "Which orders did the patient {name} have?"
GOLD = (
    "SELECT o.id, o.order_date FROM orders o JOIN patients p ON o.patient_id = p.id "
    "WHERE p.patient_name = '{name}'"
)
AS_A_PHYSICIAN = (
    "SELECT o.id, o.order_date FROM orders o JOIN physicians ph ON o.physician_id = ph.id "
    "WHERE ph.physician_name = '{name}'"
)


def a_patient_only_the_first_variant_has(demo_database: Path, first: Variant) -> str:
    query = "SELECT patient_name FROM patients"
    theirs = {row[0] for row in first.database.run(query).rows}
    return sorted(theirs - {row[0] for row in DuckDBDatabase(demo_database).run(query).rows})[0]


def test_an_answer_right_by_coincidence_on_the_demo_database_fails_on_a_variant(
    settings: Settings,
    demo_settings: Settings,
    demo_database: Path,
    demo_variants: tuple[Variant, ...],
) -> None:
    name = a_patient_only_the_first_variant_has(demo_database, demo_variants[0])
    case = SmokeCase(
        id="simple-900",
        question=QUESTION.format(name=name),
        as_of=settings.as_of,
        gold_sql=GOLD.format(name=name),
        tags=("simple", "empty-expected"),
        category="simple",
    )
    script = PipelineScript(cases=(case,))
    script.plant(SQL, case.question, AS_A_PHYSICIAN.format(name=name))
    # The run's settings share the data directory of the session's demo database, so the run
    # judges on its variants as a run on the demo database does.
    run_settings = settings.model_copy(update={"data_dir": demo_settings.data_dir})
    env = environment(
        run_settings, script.llm(), store=open_store(settings), database=demo_database
    )
    record = run_suite(env, SmokeOptions(repeats=2), cases=(case,))

    first, second = record.results[0].repeats
    assert first.verdict == "fail" and first.equivalent is False
    assert first.reason.startswith(f"differs on variant database {demo_variants[0].name}: ")
    assert first.reason.endswith("on the main database both return no rows")
    assert second.verdict == "pass"
    assert second.reason == "equivalent to the gold"
