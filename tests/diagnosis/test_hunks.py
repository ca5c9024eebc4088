"""An edit cut into hunks: any subset applies, all give the new texts, none the old."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workbench.diagnosis.hunks import apply_hunks, edit_hunks

LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d", "\n", "e\r\n"]), max_size=12)
FILES = st.dictionaries(st.sampled_from(["01.md", "06_sql.md", "07.md"]), LINES.map("".join))


@given(FILES, FILES)
def test_all_hunks_give_the_new_texts_and_none_the_old(old, new) -> None:
    hunks = edit_hunks(old, new)
    everything = apply_hunks(old, hunks, [h.id for h in hunks])
    nothing = apply_hunks(old, hunks, [])
    for name in old.keys() | new.keys():
        assert everything.get(name, "") == new.get(name, "")
        assert nothing.get(name, "") == old.get(name, "")


@given(FILES, FILES, st.data())
def test_one_files_hunks_applied_leave_the_other_files_alone(old, new, data) -> None:
    hunks = edit_hunks(old, new)
    files = sorted({h.file for h in hunks})
    if not files:
        return
    name = data.draw(st.sampled_from(files))
    texts = apply_hunks(old, hunks, [h.id for h in hunks if h.file == name])
    assert texts.get(name, "") == new.get(name, "")
    assert all(texts[other] == old.get(other, "") for other in texts if other != name)


@given(FILES, FILES, st.data())
def test_any_subset_applies_the_same_in_any_order(old, new, data) -> None:
    hunks = edit_hunks(old, new)
    chosen = data.draw(st.lists(st.sampled_from([h.id for h in hunks]))) if hunks else []
    assert apply_hunks(old, hunks, chosen) == apply_hunks(old, list(reversed(hunks)), chosen)


def test_hunks_are_numbered_per_file_with_the_new_files_lines() -> None:
    old = {"02_noise.md": "one\ntwo\nthree\n", "06_sql.md": "".join(f"{n}\n" for n in range(50))}
    new_sql = old["06_sql.md"].replace("\n5\n", "\nfive\n").replace("\n40\n", "\nforty\nmore\n")
    new = {"02_noise.md": "one\n2\nthree\n", "06_sql.md": new_sql}
    hunks = edit_hunks(old, new)

    assert [(h.id, h.file, h.number) for h in hunks] == [
        (1, "02_noise.md", 1),
        (2, "06_sql.md", 1),
        (3, "06_sql.md", 2),
    ]
    assert hunks[2].describe() == "06_sql.md hunk 2, lines 41–42"
    assert hunks[0].describe() == "02_noise.md hunk 1, line 2"
    assert "-40\n+forty\n+more\n" in hunks[2].diff and " 39\n" in hunks[2].diff
    assert apply_hunks(old, hunks, [3])["06_sql.md"] == old["06_sql.md"].replace(
        "\n40\n", "\nforty\nmore\n"
    )


def test_a_new_file_is_one_hunk_and_absent_without_it() -> None:
    hunks = edit_hunks({}, {"08_extra.md": "x\ny\n"})
    assert [h.describe() for h in hunks] == ["08_extra.md hunk 1, lines 1–2"]
    assert apply_hunks({}, hunks, []) == {"08_extra.md": ""}


def test_a_deletion_names_the_old_lines() -> None:
    (hunk,) = edit_hunks({"a.md": "1\n2\n3\n4\n"}, {"a.md": "1\n4\n"})
    assert hunk.lines == "deletes old lines 2–3"
