"""The schema the model is shown, on a music-store database built in DuckDB: keys over two
columns, NOT NULL, lookup values chosen from the data, warnings, the workspace's notes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.sql.musicstore import GENRES, build_duckdb
from workbench.errors import ConfigError, WorkspaceError
from workbench.sql import (
    DuckDBDatabase,
    load_schema_notes,
    read_schema,
    require_tables,
    schema_description,
    schema_statements,
    schema_texts,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_duckdb(tmp_path_factory.mktemp("music") / "store.duckdb")


def _block(text: str, table: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"CREATE TABLE {table} (")))
    end = lines.index(");", start)
    return lines[start : end + 1]


def _column(schema, table: str, column: str):
    (found,) = [t for t in schema.tables if t.name == table]
    return next(c for c in found.columns if c.name == column)


# -- keys and NOT NULL ----------------------------------------------------------------------


def test_a_two_column_primary_key_is_a_table_constraint(store: Path) -> None:
    block = _block(schema_statements(store), "playlist_track")
    assert block[1:] == [
        "  playlist_id INTEGER REFERENCES playlist(playlist_id),",
        "  track_id INTEGER REFERENCES track(track_id),",
        "  PRIMARY KEY (playlist_id, track_id)",
        ");",
    ]
    outline = schema_description(store).split("playlist_track (1,529 rows)\n")[1]
    assert outline.splitlines()[:3] == [
        "  playlist_id INTEGER, -> playlist.playlist_id",
        "  track_id INTEGER, -> track.track_id",
        "  primary key (playlist_id, track_id)",
    ]


def test_a_two_column_foreign_key_is_a_table_constraint(store: Path) -> None:
    block = _block(schema_statements(store), "track_rating")
    assert block[-2] == (
        "  FOREIGN KEY (playlist_id, track_id) REFERENCES playlist_track (playlist_id, track_id)"
    )
    assert "REFERENCES" not in "".join(block[1:-2])
    assert (
        "  foreign key (playlist_id, track_id) -> playlist_track (playlist_id, track_id)"
        in schema_description(store).splitlines()
    )


def test_not_null_is_shown_and_primary_keys_imply_it(store: Path) -> None:
    block = _block(schema_statements(store), "track")
    assert "  track_id INTEGER PRIMARY KEY," in block
    assert "  media_type_id INTEGER NOT NULL REFERENCES media_type(media_type_id)," in block
    assert "  genre_id INTEGER REFERENCES genre(genre_id)," in block
    assert "  unit_price NUMERIC(10,2) NOT NULL" in block
    assert "  milliseconds INTEGER, not null" in schema_description(store).splitlines()


def test_the_statements_rebuild_the_keys_columns_and_not_null(store: Path, tmp_path: Path) -> None:
    catalog = (
        "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY ALL"
    )
    keys = (
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY ALL"
    )
    with duckdb.connect(str(store), read_only=True) as original:
        expected = original.execute(catalog).fetchall(), original.execute(keys).fetchall()
    with duckdb.connect(str(tmp_path / "copy.duckdb")) as copy:
        copy.execute(schema_statements(store))
        assert (copy.execute(catalog).fetchall(), copy.execute(keys).fetchall()) == expected


def test_type_names_are_compact(store: Path) -> None:
    text = schema_statements(store)
    assert "VARCHAR(" not in text and "DECIMAL" not in text
    assert "  name VARCHAR NOT NULL  -- 60 distinct, e.g. 'Artist 001', 'Artist 002'" in text


# -- which values are listed --------------------------------------------------------------


def test_a_25_row_lookup_table_has_every_value_listed(store: Path) -> None:
    genre = _column(DuckDBDatabase(store).describe(), "genre", "name")
    assert genre.values == tuple(sorted(GENRES)) and not genre.cut


def test_columns_whose_values_are_all_distinct_are_not_dumped(store: Path) -> None:
    schema = DuckDBDatabase(store).describe()
    for column in ("address", "phone", "email", "first_name"):
        info = _column(schema, "employee", column)
        assert info.values is None and len(info.examples) == 2, column
    assert _column(schema, "employee", "city").values == ("Calgary", "Edmonton")
    assert _column(schema, "customer", "email").values is None
    assert len(_column(schema, "customer", "country").values) == 24


def test_a_long_list_is_cut_and_says_so(store: Path) -> None:
    city = _column(DuckDBDatabase(store).describe(), "invoice", "billing_city")
    assert city.cut and city.distinct == 53 and len(city.values) == 40
    line = next(line for line in schema_statements(store).splitlines() if "billing_city" in line)
    assert line.endswith("'City 40', … (cut: 53 in all, the most frequent shown)")


def test_the_rule_does_not_depend_on_column_names(tmp_path: Path) -> None:
    """The same data under other names is described alike: a lookup called ``label`` is
    listed, people's names in a ``*_name`` column of a table nobody points at are not."""
    path = tmp_path / "renamed.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE kinds (id INTEGER PRIMARY KEY, label VARCHAR)")
        connection.executemany("INSERT INTO kinds VALUES (?, ?)", list(enumerate(GENRES)))
        connection.execute("CREATE TABLE things (id INTEGER, kind INTEGER REFERENCES kinds(id))")
        connection.execute("CREATE TABLE staff (id INTEGER, person_name VARCHAR, code VARCHAR)")
        connection.executemany(
            "INSERT INTO staff VALUES (?, ?, ?)",
            [(i, f"Person {i}", "AB"[i % 2]) for i in range(8)],
        )
    schema = DuckDBDatabase(path).describe()
    assert _column(schema, "kinds", "label").values == tuple(sorted(GENRES))
    assert _column(schema, "staff", "person_name").values is None
    assert _column(schema, "staff", "code").values == ("A", "B")


def test_values_with_line_breaks_do_not_end_the_comment(tmp_path: Path) -> None:
    path = tmp_path / "breaks.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE t (id INTEGER, kind VARCHAR)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(i, "a\nb") for i in range(4)])
    text = schema_statements(path)
    assert "  kind VARCHAR  -- values: 'a\\nb'" in text.splitlines()
    with duckdb.connect() as connection:
        connection.execute(text)


# -- warnings ---------------------------------------------------------------------------------


def test_tables_outside_the_main_schema_are_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "schemas.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE shown (id INTEGER)")
        connection.execute("CREATE SCHEMA sales")
        connection.execute("CREATE TABLE sales.orders (id INTEGER)")
    texts = schema_texts(path)
    assert "sales" not in texts.schema_sql
    assert texts.warnings == (
        "schema sales holds 1 table(s) outside the main schema; they are left out "
        "(queries name main's tables without a schema)",
    )
    assert schema_texts(DuckDBDatabase(path)).warnings == texts.warnings


# -- the workspace's notes ----------------------------------------------------------------


def _notes(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_notes_leave_out_columns_and_tables_and_describe_others(
    store: Path, tmp_path: Path
) -> None:
    notes = load_schema_notes(_notes(tmp_path, """\
exclude: [customer.email, customer.phone, employee]
describe:
  invoice.total: "invoice amount in USD\\nincl. tax"
  invoice: one row per sale
"""))  # fmt: skip
    texts = schema_texts(store, notes=notes)
    for text in (texts.schema, texts.schema_sql):
        assert "employee" not in text and "@example" not in text and "+55" not in text
    statements = texts.schema_sql
    assert "CREATE TABLE invoice (  -- 412 rows; one row per sale" in statements
    assert "  total NUMERIC(10,2) NOT NULL  -- invoice amount in USD incl. tax" in statements
    # The foreign key to the table left out goes with it, and the statements still run.
    assert "  support_rep_id INTEGER" in statements.splitlines()
    with duckdb.connect() as connection:
        connection.execute(statements)
    assert "  total NUMERIC(10,2), not null; invoice amount in USD incl. tax" in texts.schema
    assert "invoice (412 rows): one row per sale" in texts.schema


def test_a_name_the_database_does_not_hold_is_an_error_with_file_and_line(
    store: Path, tmp_path: Path
) -> None:
    path = _notes(tmp_path, "exclude:\n  - customer.email\n  - customer.fax\n")
    with pytest.raises(WorkspaceError) as caught:
        read_schema(store, load_schema_notes(path))
    assert str(caught.value).startswith(f"{path}:3: 'customer.fax' names no column")
    path = _notes(tmp_path, "describe:\n  invoices: sales\n")
    with pytest.raises(WorkspaceError, match=r"schema.yaml:2: 'invoices' .*did you mean 'invoice'"):
        read_schema(store, load_schema_notes(path))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("exclude: [a]\nhide: [b]\n", 2, "hide: unknown key"),
        ("exclude: [a.b.c]\n", 1, "not a table or table.column name"),
        ("describe:\n  a: '  '\n", 2, "a description cannot be empty"),
        ("exclude: [a\n", None, "not valid YAML"),
    ],
)
def test_a_malformed_notes_file_names_the_line(
    tmp_path: Path, text: str, line: int | None, problem: str
) -> None:
    path = _notes(tmp_path, text)
    with pytest.raises(WorkspaceError) as caught:
        load_schema_notes(path)
    assert problem in str(caught.value)
    if line is not None:
        assert str(caught.value).startswith(f"{path}:{line}: ")


def test_excluded_and_described_at_once_is_an_error(store: Path, tmp_path: Path) -> None:
    path = _notes(tmp_path, "exclude: [invoice.total]\ndescribe:\n  invoice.total: amount\n")
    with pytest.raises(WorkspaceError, match="both excluded and described"):
        read_schema(store, load_schema_notes(path))


def test_no_notes_file_changes_nothing(store: Path, tmp_path: Path) -> None:
    notes = load_schema_notes(tmp_path / "absent.yaml")
    assert schema_texts(store, notes=notes) == schema_texts(store)


# -- a database with nothing to show ---------------------------------------------------------


def test_a_database_without_tables_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    database = DuckDBDatabase(path)
    for needs_tables in (lambda: read_schema(database), lambda: require_tables(database)):
        with pytest.raises(ConfigError) as caught:
            needs_tables()
        message = str(caught.value)
        assert message.startswith(f"the database duckdb:///{path} has no table the role can read")
        assert "WORKBENCH_DATABASE_URL" in message


def test_notes_that_leave_out_every_table_say_so(tmp_path: Path) -> None:
    path = tmp_path / "one.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE person (id INTEGER, email TEXT)")
    notes = load_schema_notes(_notes(tmp_path, "exclude: [person]\n"))
    require_tables(DuckDBDatabase(path))  # the role can read it: only the notes hide it
    with pytest.raises(
        ConfigError, match=r"has no table the role can read; .*schema.yaml leaves out person"
    ):
        read_schema(path, notes)
