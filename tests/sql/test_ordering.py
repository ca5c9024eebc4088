"""ORDER BY keys of a gold: found among the output columns, or appended to it."""

from __future__ import annotations

import pytest

from workbench.sql.ordering import SORT_KEY_ALIAS, SortKeys, first_order_difference, sort_keys


@pytest.mark.parametrize(
    ("sql", "columns", "indexes"),
    [
        ("SELECT a, b FROM t ORDER BY b", ("a", "b"), (1,)),
        ("SELECT a, b FROM t ORDER BY 2 DESC, 1", ("a", "b"), (1, 0)),
        ("SELECT a AS x, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC", ("x", "n"), (1,)),
        ("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY COUNT(*) DESC", ("a", "count"), (1,)),
        ("SELECT t.a FROM t ORDER BY t.a", ("a",), (0,)),
        ("SELECT * FROM t ORDER BY b", ("a", "b"), (1,)),
        ("(SELECT a FROM t ORDER BY a)", ("a",), (0,)),
    ],
)
def test_keys_that_are_output_columns_are_read_from_the_row(
    sql: str, columns: tuple[str, ...], indexes: tuple[int, ...]
) -> None:
    keys = sort_keys(sql, columns)
    assert keys is not None and keys.sql is None
    assert keys.indexes == indexes and keys.width == len(columns)


@pytest.mark.parametrize(
    ("sql", "columns", "appended", "indexes"),
    [
        ("SELECT lab_name FROM labs ORDER BY region", ("lab_name",), ["region"], (1,)),
        (
            "SELECT a FROM t GROUP BY a ORDER BY COUNT(*) DESC, a",
            ("a",),
            ["COUNT(*)"],
            (1, 0),
        ),
        ("SELECT * FROM t ORDER BY LOWER(b)", ("a", "b"), ["LOWER(b)"], (2,)),
        ("SELECT a FROM t ORDER BY b, c", ("a",), ["b", "c"], (1, 2)),
    ],
)
def test_hidden_keys_are_appended_as_output_columns(
    sql: str, columns: tuple[str, ...], appended: list[str], indexes: tuple[int, ...]
) -> None:
    keys = sort_keys(sql, columns)
    assert keys is not None and keys.indexes == indexes and keys.width == len(columns)
    expected = ", ".join(
        f'{key} AS "{SORT_KEY_ALIAS.format(n)}"' for n, key in enumerate(appended, start=1)
    )
    assert expected in keys.sql
    assert keys.sql.endswith(sql.split(" ORDER BY ")[1])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM t",
        "SELECT DISTINCT a FROM t ORDER BY b",
        "SELECT a FROM t UNION SELECT b FROM u ORDER BY zz",
        "not sql at all (",
    ],
)
def test_no_keys_when_unordered_or_when_appending_would_change_the_rows(sql: str) -> None:
    assert sort_keys(sql, ("a",)) is None


@pytest.mark.parametrize(
    ("sql", "indexes"),
    [
        ("SELECT a, b FROM t UNION SELECT c, d FROM u ORDER BY 1", (0,)),
        ("SELECT a, b FROM t UNION ALL SELECT c, d FROM u ORDER BY b DESC, a", (1, 0)),
        ("(SELECT a, b FROM t) EXCEPT (SELECT c, d FROM u) ORDER BY b", (1,)),
    ],
)
def test_a_set_operations_keys_are_its_output_columns(sql: str, indexes: tuple[int, ...]) -> None:
    assert sort_keys(sql, ("a", "b")) == SortKeys(indexes, 2)


def test_the_first_difference_skips_ties_and_names_the_first_crossing() -> None:
    gold = [(1, "a"), (1, "b"), (2, "c"), (3, "d")]
    keys = [(1,), (1,), (2,), (3,)]
    assert first_order_difference(gold, [(1, "b"), (1, "a"), (2, "c"), (3, "d")], keys) is None
    assert first_order_difference(gold, [(1, "a"), (1, "b"), (3, "d"), (2, "c")], keys) == 2
    assert first_order_difference(gold, [(1, "a"), (2, "c"), (1, "b"), (3, "d")], keys) == 1
