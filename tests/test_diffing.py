"""Word and line diffs: golden pairs, round trips, escaping, divergence, the CLI."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.cli import main
from workbench.diffing import (
    DIFF_CSS,
    Edit,
    apply_edits,
    first_divergence,
    format_edits,
    line_diff,
    line_diff_html,
    line_diff_table_html,
    render_html,
    side_by_side_html,
    tokenize,
    word_diff,
)

FIXTURES = Path(__file__).parent / "fixtures" / "diffing"
PAPER = FIXTURES / "paper"


def golden_cases() -> list[tuple[str, Path, Path, Path]]:
    cases = [
        (path.name.removesuffix(".edits.json"), path)
        for path in sorted(FIXTURES.glob("*.edits.json"))
    ]
    pairs = [
        (name, FIXTURES / f"{name}.before.txt", FIXTURES / f"{name}.after.txt", edits)
        for name, edits in cases
    ]
    for stage in range(1, 7):
        pairs.append(
            (
                f"paper_stage{stage}",
                PAPER / f"stage{stage - 1}.txt",
                PAPER / f"stage{stage}.txt",
                PAPER / f"stage{stage}.edits.json",
            )
        )
    return pairs


def paper_text(stage: int) -> str:
    return (PAPER / f"stage{stage}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("before_path", "after_path", "edits_path"),
    [case[1:] for case in golden_cases()],
    ids=[case[0] for case in golden_cases()],
)
def test_golden_pairs(before_path: Path, after_path: Path, edits_path: Path) -> None:
    before = before_path.read_text(encoding="utf-8")
    after = after_path.read_text(encoding="utf-8")
    expected = json.loads(edits_path.read_text(encoding="utf-8"))
    edits = word_diff(before, after)
    assert [asdict(edit) for edit in edits] == expected
    assert apply_edits(before, edits) == after


def test_golden_set_covers_the_paper_chain_and_small_cases() -> None:
    names = [case[0] for case in golden_cases()]
    assert len(names) >= 12
    assert all(f"paper_stage{n}" in names for n in range(1, 7))


def test_tokenize_keeps_dates_codes_numbers_and_operators_whole() -> None:
    text = "COVID-19 count >= 3.5 from 2026-01-01 at 10:30 (don't), a/b"
    assert tokenize(text) == (
        "COVID-19", " ", "count", " ", ">=", " ", "3.5", " ", "from", " ", "2026-01-01",
        " ", "at", " ", "10:30", " ", "(", "don't", ")", ",", " ", "a/b",
    )  # fmt: skip


def test_tokenize_groups_whitespace_runs_and_splits_trailing_marks() -> None:
    assert tokenize("results.  Thank\n\tyou!") == (
        "results", ".", "  ", "Thank", "\n\t", "you", "!",
    )  # fmt: skip


@given(st.text())
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


VOCABULARY = ["show", "count", "CBC", "results", ",", ".", "2026-01-01", ">=", "3", "<b>", "&"]
texts_with_shared_words = st.lists(
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from([" ", "  ", "\n", ""])), max_size=25
).map(lambda pairs: "".join(word + space for word, space in pairs))


def check_edit_invariants(before: str, after: str, edits: tuple[Edit, ...]) -> None:
    assert apply_edits(before, edits) == after
    assert "".join(edit.before for edit in edits) == before
    for first, second in zip(edits, edits[1:], strict=False):
        assert first.op != second.op
    for edit in edits:
        words_before = [t for t in tokenize(edit.before) if not t.isspace()]
        words_after = [t for t in tokenize(edit.after) if not t.isspace()]
        if edit.op == "equal":
            assert words_before == words_after
        else:
            assert words_before != words_after
            assert bool(words_before) == (edit.op in ("delete", "replace"))
            assert bool(words_after) == (edit.op in ("insert", "replace"))


@given(texts_with_shared_words, texts_with_shared_words)
def test_edits_reproduce_the_new_text_for_related_texts(before: str, after: str) -> None:
    check_edit_invariants(before, after, word_diff(before, after))


@given(st.text(), st.text())
def test_edits_reproduce_the_new_text_for_any_texts(before: str, after: str) -> None:
    check_edit_invariants(before, after, word_diff(before, after))


def test_identical_and_empty_texts() -> None:
    assert word_diff("", "") == ()
    assert word_diff("same words", "same words") == (
        Edit("equal", "same words", "same words", 0, 0),
    )
    assert word_diff("", "new words") == (Edit("insert", "", "new words", 0, 0),)
    assert word_diff("old words", "") == (Edit("delete", "old words", "", 0, 0),)


def test_apply_edits_rejects_edits_of_another_text() -> None:
    edits = word_diff("count results", "show results")
    with pytest.raises(ValueError, match="does not match"):
        apply_edits("count rows", edits)
    with pytest.raises(ValueError, match="cover"):
        apply_edits("count results and more", edits)


def test_render_marks_the_paper_stage_three_like_the_figure() -> None:
    out = render_html(word_diff(paper_text(2), paper_text(3)))
    assert out.startswith('<div class="wb-diff">')
    assert '<del class="wb-del">came back</del> <ins class="wb-ins">from</ins>' in out
    assert ' <ins class="wb-ins">by physicians</ins> across all departments' in out
    assert ' physicians <del class="wb-del">involved</del> with 3' in out


def test_render_keeps_the_mark_with_the_word_it_ends() -> None:
    out = render_html(word_diff(paper_text(1), paper_text(2)))
    assert out.endswith('normal results. <del class="wb-del">Thank you.</del><br></div>')


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))
        if tag == "br":  # a line break is written as <br>, so a fragment is one line
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(fragment: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(fragment)
    parser.close()
    return parser


ALLOWED_TAGS = {
    ("br", ()),
    ("div", (("class", "wb-diff"),)),
    ("del", (("class", "wb-del"),)),
    ("ins", (("class", "wb-ins"),)),
}
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "&lt;already escaped&gt; & 'quotes'",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_renders_inert(hostile: str) -> None:
    before = f"count results {hostile} now"
    after = f"show {hostile} results"
    for fragment in (render_html(word_diff(before, after)), *side_by_side_html(before, after)):
        parsed = parse(fragment)
        assert set(parsed.tags) <= ALLOWED_TAGS
        assert "<script" not in fragment and "<img" not in fragment and "<svg" not in fragment
    left, right = side_by_side_html(before, after)
    assert "".join(parse(left).text) == before
    assert "".join(parse(right).text) == after


@given(texts_with_shared_words | st.text(), texts_with_shared_words | st.text())
def test_any_text_renders_with_only_our_tags(before: str, after: str) -> None:
    assert set(parse(render_html(word_diff(before, after))).tags) <= ALLOWED_TAGS
    left, right = side_by_side_html(before, after)
    assert "".join(parse(left).text) == one_kind_of_line_break(before)
    assert "".join(parse(right).text) == one_kind_of_line_break(after)
    for fragment in (left, right, render_html(word_diff(before, after))):
        assert "\n" not in fragment and "\r" not in fragment


def one_kind_of_line_break(text: str) -> str:
    return re.sub(r"\r\n|\r|\n|\u2028|\u2029", "\n", text)


def test_side_by_side_marks_removals_left_and_additions_right() -> None:
    left, right = side_by_side_html(paper_text(4), paper_text(5))
    assert '<del class="wb-del">across all departments</del>' in left
    assert "wb-ins" not in left
    assert "wb-del" not in right
    assert "across all departments" not in right


def test_css_styles_every_class_the_renderers_emit() -> None:
    html_out = render_html(word_diff("a b", "a c")) + line_diff_table_html("x\ny", "x\nz\nw")
    for name in ("wb-diff", "wb-del", "wb-ins", "wb-linediff", "wb-line-replace", "wb-lineno"):
        assert name in html_out
        assert f".{name}" in DIFF_CSS


def test_format_edits_in_wdiff_style() -> None:
    edits = word_diff("count results this quarter. Thanks", "show count results 2026-01-01.")
    assert (
        format_edits(edits) == "{+show+} count results [-this quarter-] {+2026-01-01+}. [-Thanks-]"
    )


def test_first_divergence_between_paper_stages_three_and_four() -> None:
    found = first_divergence(paper_text(3), paper_text(4))
    assert found is not None
    assert found.word_index == 20
    assert found.shared == "highest to lowest,"  # the comma counts as a word
    assert found.a_context == "with physicians with 3"
    assert found.b_context == "having COVID-19 related abnormal"
    assert paper_text(3)[found.a_offset :].startswith("with physicians")
    assert paper_text(4)[found.b_offset :].startswith("having COVID-19")


def test_first_divergence_ignores_whitespace_and_spots_endings() -> None:
    assert first_divergence("show  count\n", "show count") is None
    assert first_divergence("same", "same") is None
    assert first_divergence("", "") is None
    at_end = first_divergence("show count", "show count now")
    assert at_end is not None
    assert (at_end.word_index, at_end.a_offset, at_end.b_offset) == (2, 10, 11)
    assert (at_end.shared, at_end.a_context, at_end.b_context) == ("show count", "", "now")
    at_start = first_divergence("show count", "list count")
    assert at_start is not None
    assert (at_start.word_index, at_start.shared) == (0, "")


def test_first_divergence_context_length() -> None:
    found = first_divergence("a b c d e f g X y", "a b c d e f g Y y", context_words=2)
    assert found is not None
    assert (found.shared, found.a_context, found.b_context) == ("f g", "X y", "Y y")


OLD_PROMPT = "You normalize dates.\nKeep every word.\nReplace this quarter.\nAnswer only."
NEW_PROMPT = "You normalize dates.\nKeep every other word.\nReplace this quarter.\nNever explain.\nAnswer only."


def test_line_diff_pairs_changed_lines_and_marks_words() -> None:
    rows = line_diff(OLD_PROMPT, NEW_PROMPT)
    assert [(r.op, r.before_line, r.after_line) for r in rows] == [
        ("equal", 1, 1),
        ("replace", 2, 2),
        ("equal", 3, 3),
        ("insert", None, 4),
        ("equal", 4, 5),
    ]
    assert [e.op for e in rows[1].words] == ["equal", "insert", "equal"]
    assert rows[1].words[1].after == " other"
    assert rows[3].after == "Never explain."


def test_line_diff_with_more_old_lines_than_new() -> None:
    rows = line_diff("a\nold one\nold two\nz", "a\nnew one\nz")
    assert [(r.op, r.before_line, r.after_line) for r in rows] == [
        ("equal", 1, 1),
        ("replace", 2, 2),
        ("delete", 3, None),
        ("equal", 4, 3),
    ]


def test_line_diff_of_a_respaced_line_has_no_word_changes() -> None:
    (row,) = line_diff("  keep  every word", "keep every word")
    assert row.op == "replace"
    assert [edit.op for edit in row.words] == ["equal"]
    left, right = line_diff_html("  keep  every word", "keep every word")
    assert "wb-del" not in left and "wb-ins" not in right


def test_line_diff_html_columns_line_up_and_escape() -> None:
    old = OLD_PROMPT + "\n<script>alert(1)</script>"
    new = NEW_PROMPT
    left, right = line_diff_html(old, new)
    assert left.count('<div class="wb-line ') == right.count('<div class="wb-line ')
    assert left.count('<div class="wb-line ') == len(line_diff(old, new))
    assert "<script" not in left
    assert "&lt;script&gt;" in left
    assert '<ins class="wb-ins">other</ins>' in right
    assert "wb-line-empty" in left  # the inserted line leaves a gap on the old side


def test_line_diff_table_has_one_row_per_line_pair() -> None:
    table = line_diff_table_html(OLD_PROMPT, NEW_PROMPT)
    assert table.count("<tr ") == len(line_diff(OLD_PROMPT, NEW_PROMPT))
    assert '<del class="wb-del">' not in table
    assert '<ins class="wb-ins">other</ins>' in table


def test_cli_prints_edits_as_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "count results this quarter", "count results 2026-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "op": "equal",
            "before": "count results",
            "after": "count results",
            "before_index": 0,
            "after_index": 0,
        },
        {
            "op": "replace",
            "before": " this quarter",
            "after": " 2026-01-01",
            "before_index": 2,
            "after_index": 2,
        },
    ]


def test_cli_prints_edits_as_text(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "Hi chatbot, show results", "show results."]) == 0
    assert capsys.readouterr().out == "[-Hi chatbot,-] show results{+.+}\n"
