"""The smoke suite: loading, validation, and the checks against the real demo database."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from workbench.cases.suite import (
    CATEGORIES,
    DEFAULT_AS_OF,
    SmokeCase,
    StageExpectation,
    case_digest,
    load_case_file,
    load_cases,
    load_tags,
    select_cases,
    smoke_dir,
    stratified_sample,
    suite_categories,
    tag_categories,
)
from workbench.errors import CaseError
from workbench.settings import PROJECT_ROOT

SMOKE_DIR = smoke_dir(PROJECT_ROOT / "fixtures")

GOOD_CASE = """\
- id: simple-001
  question: How many labs are there?
  gold_sql: SELECT COUNT(*) FROM labs
  tags: [simple, aggregate]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- loading -----------------------------------------------------------------------------


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    (case,) = load_case_file(write(tmp_path, "simple.yaml", GOOD_CASE))
    assert case.id == "simple-001"
    assert case.as_of == DEFAULT_AS_OF
    assert case.category == "simple"
    assert case.tags == ("simple", "aggregate")
    assert case.expect == () and case.wrong_sql is None and case.pseudo is None
    assert case.source.endswith("simple.yaml:1")


def test_a_case_without_its_own_as_of_is_asked_on_the_one_given(tmp_path: Path) -> None:
    own = GOOD_CASE.replace("simple-001", "simple-002") + "  as_of: 2026-06-30\n"
    write(tmp_path, "a.yaml", GOOD_CASE + own)
    plain, dated = load_cases(tmp_path, as_of=date(2011, 12, 31))
    assert plain.as_of == date(2011, 12, 31)  # the workspace's
    assert dated.as_of == date(2026, 6, 30)  # its own wins


def test_wrong_sql_may_list_several_readings(tmp_path: Path) -> None:
    one = GOOD_CASE + "  wrong_sql: SELECT COUNT(*) FROM tests\n"
    (case,) = load_case_file(write(tmp_path, "simple.yaml", one))
    assert case.wrong_readings == ("SELECT COUNT(*) FROM tests",) and case.more_wrong_sql == ()
    several = GOOD_CASE + "  wrong_sql:\n    - SELECT 1\n    - |\n      SELECT 2\n"
    (case,) = load_case_file(write(tmp_path, "simple.yaml", several))
    assert case.wrong_sql == "SELECT 1" and case.more_wrong_sql == ("SELECT 2",)
    assert case.wrong_readings == ("SELECT 1", "SELECT 2")
    with pytest.raises(CaseError, match="wrong_sql"):
        load_case_file(write(tmp_path, "simple.yaml", GOOD_CASE + "  wrong_sql: {a: 1}\n"))


def test_expect_and_as_of_are_read(tmp_path: Path) -> None:
    text = """\
- id: messy-001
  question: hi, abnormal CBC results last month?
  as_of: 2025-07-15
  gold_sql: SELECT 1
  tags: [messy, preamble]
  expect:
    date_normalization: {contains: ["2025-06-01"]}
    noise_removal: {not_contains: ["hi,"]}
"""
    (case,) = load_case_file(write(tmp_path, "messy.yaml", text))
    assert case.as_of == date(2025, 7, 15)
    assert case.expectation_for("date_normalization").contains == ("2025-06-01",)
    assert case.expectation_for("noise_removal").not_contains == ("hi,",)
    assert case.expectation_for("sql_generation") is None


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (GOOD_CASE + "  colour: red\n", ["simple-001", "unknown field 'colour'"]),
        (
            GOOD_CASE.replace("  gold_sql: SELECT COUNT(*) FROM labs\n", ""),
            ["gold_sql", "Field required"],
        ),
        (GOOD_CASE.replace("[simple, aggregate]", "[aggregate]"), ["exactly one category"]),
        (GOOD_CASE.replace("[simple, aggregate]", "[simple, edge]"), ["exactly one category"]),
        (GOOD_CASE + "  expect: {narrative: {includes: [x]}}\n", ["unknown field", "includes"]),
        (GOOD_CASE + "  as_of: 2026-02-30\n", ["as_of"]),
        (GOOD_CASE.replace("simple-001", "Simple 1"), ["'Simple 1'", "id"]),
        (GOOD_CASE.replace("simple-001", "-lead"), ["'-lead'", "id"]),
        (GOOD_CASE.replace("How many labs are there?", "'   '"), ["question", "blank"]),
        ("id: simple-001\n", ["must be a YAML list"]),
        ("- just a string\n", ["case #1 (no id)", "mapping"]),
        ("- id: simple-001\n\tquestion: tabbed\n", ["not valid YAML", "x.yaml:2"]),
    ],
)
def test_malformed_files_are_rejected_naming_file_and_case(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(CaseError) as info:
        load_case_file(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_error_names_the_line_of_the_bad_case(tmp_path: Path) -> None:
    second = GOOD_CASE.replace("simple-001", "simple-002").replace("[simple,", "[simpel,")
    path = write(tmp_path, "x.yaml", GOOD_CASE + second)
    with pytest.raises(CaseError, match=r"x\.yaml:5: case 'simple-002'"):
        load_case_file(path)


def test_a_case_id_is_any_slug(tmp_path: Path) -> None:
    text = GOOD_CASE.replace("simple-001", "genres.count_2")
    (case,) = load_case_file(write(tmp_path, "x.yaml", text))
    assert case.id == "genres.count_2"


def test_the_categories_come_from_the_tag_list(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tags.yaml",
        "lookup: Category. One table.\nreport: category. Totals.\naggregate: A COUNT.\n",
    )
    write(tmp_path, "a.yaml", GOOD_CASE.replace("[simple, aggregate]", "[report, aggregate]"))
    (case,) = load_cases(tmp_path)
    assert case.category == "report"
    assert suite_categories(tmp_path) == ("lookup", "report")
    write(tmp_path, "a.yaml", GOOD_CASE)  # 'simple' is no category of this suite
    with pytest.raises(CaseError, match=r"exactly one category tag \(one of lookup, report\)"):
        load_cases(tmp_path)


def test_a_tag_list_that_marks_no_category_has_the_standard_ones(tmp_path: Path) -> None:
    standard = "".join(f"{c}: one kind\n" for c in CATEGORIES)
    write(tmp_path, "tags.yaml", standard + "aggregate: A COUNT.\n")
    assert tag_categories(load_tags(tmp_path)) == CATEGORIES
    write(tmp_path, "tags.yaml", "aggregate: A COUNT.\n")
    with pytest.raises(CaseError, match="no categories: mark the tags that are categories"):
        load_tags(tmp_path)


def test_expect_may_name_any_stage_id_the_check_holds_it_to_the_pipeline(
    tmp_path: Path,
) -> None:
    text = GOOD_CASE + "  expect: {sql_gen: {contains: [x]}}\n"
    (case,) = load_case_file(write(tmp_path, "x.yaml", text))
    assert case.expectation_for("sql_gen") is not None


def test_load_cases_reads_every_file_but_the_tag_list(tmp_path: Path) -> None:
    write(tmp_path, "tags.yaml", "simple: Category. one\n")
    write(tmp_path, "a.yaml", GOOD_CASE)
    write(tmp_path, "b.yaml", GOOD_CASE.replace("simple-001", "simple-002"))
    assert [c.id for c in load_cases(tmp_path)] == ["simple-001", "simple-002"]


def test_the_same_case_id_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    write(tmp_path, "tags.yaml", "simple: Category. one\n")
    first = write(tmp_path, "a.yaml", GOOD_CASE)
    second = write(tmp_path, "b.yaml", GOOD_CASE.replace("How many labs", "How many tests"))
    with pytest.raises(CaseError, match="case id 'simple-001' is already used") as caught:
        load_cases(tmp_path)
    assert f"{second}:1" in str(caught.value) and f"{first}:1" in str(caught.value)


def test_load_cases_on_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no such directory"):
        load_cases(tmp_path / "nope")


def test_tag_list_must_describe_tags_and_hold_the_categories(tmp_path: Path) -> None:
    write(tmp_path, "tags.yaml", "simple: one\nmedium: ''\n")
    with pytest.raises(CaseError, match="non-empty description"):
        load_tags(tmp_path)
    write(tmp_path, "tags.yaml", "simple: one\n")
    with pytest.raises(CaseError, match="add medium, complex, messy, edge"):
        load_tags(tmp_path)
    with pytest.raises(CaseError, match="tag list is missing"):
        load_tags(tmp_path / "elsewhere")


def test_select_cases_by_tag_category_and_id() -> None:
    def case(id_: str, *tags: str) -> SmokeCase:
        return SmokeCase(id_, id_, DEFAULT_AS_OF, "SELECT 1", tags, tags[0])

    cases = (case("a-001", "simple", "join"), case("b-001", "messy", "typo", "join"))
    assert [c.id for c in select_cases(cases, tags=["join"])] == ["a-001", "b-001"]
    assert [c.id for c in select_cases(cases, tags=["join", "typo"])] == ["b-001"]
    assert [c.id for c in select_cases(cases, category="simple")] == ["a-001"]
    assert [c.id for c in select_cases(cases, ids=["b-001"])] == ["b-001"]


def test_a_limit_samples_every_category_in_proportion_and_the_same_way_each_time() -> None:
    suite = load_cases(SMOKE_DIR)
    sizes = Counter(c.category for c in suite)
    sample = stratified_sample(suite, 20)
    assert len(sample) == 20 and sample == stratified_sample(load_cases(SMOKE_DIR), 20)
    drawn = Counter(c.category for c in sample)
    assert set(drawn) == set(sizes)  # every category, not the first file's first twenty
    for category, size in sizes.items():
        assert abs(drawn[category] - 20 * size / len(suite)) < 1.5
    assert [suite.index(c) for c in sample] == sorted(suite.index(c) for c in sample)
    messy = [c for c in sample if c.category == "messy"]
    assert messy[0] != suite[[c.category for c in suite].index("messy")]  # spread, not a prefix
    assert stratified_sample(suite, 2) == stratified_sample(suite, 2)
    assert len(stratified_sample(suite, 2)) == 2
    assert stratified_sample(suite, len(suite) + 5) == suite and stratified_sample(suite, 0) == ()


def test_a_case_digest_changes_with_what_decides_its_verdict_only() -> None:
    case = load_cases(SMOKE_DIR)[0]
    assert case_digest(case) == case_digest(replace(case, tags=(*case.tags, "x"), note="n"))
    for change in ({"question": case.question + "?"}, {"gold_sql": case.gold_sql + " "},
                   {"as_of": date(2026, 1, 1)}, {"expect": ()} if case.expect else
                   {"expect": (StageExpectation("sql", ("x",)),)}):  # fmt: skip
        assert case_digest(replace(case, **change)) != case_digest(case)
