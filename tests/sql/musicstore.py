"""A small music-store database (Chinook's shape) for the schema tests: a two-column primary
key (playlist_track), a two-column foreign key (track_rating), a 25-row genre lookup, an
8-row staff table full of addresses and e-mails, a 53-city billing column.

The DDL is written so that PostgreSQL and DuckDB both run it; ``build_duckdb`` fills a DuckDB
file, ``DDL`` and ``ROWS`` fill a PostgreSQL database the same way.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

DDL = """
CREATE TABLE artist (artist_id INTEGER PRIMARY KEY, name VARCHAR(120) NOT NULL);
CREATE TABLE album (
  album_id INTEGER PRIMARY KEY, title VARCHAR(160) NOT NULL,
  artist_id INTEGER NOT NULL REFERENCES artist(artist_id));
CREATE TABLE genre (genre_id INTEGER PRIMARY KEY, name VARCHAR(120) NOT NULL);
CREATE TABLE media_type (media_type_id INTEGER PRIMARY KEY, name VARCHAR(120) NOT NULL);
CREATE TABLE track (
  track_id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL,
  album_id INTEGER REFERENCES album(album_id),
  media_type_id INTEGER NOT NULL REFERENCES media_type(media_type_id),
  genre_id INTEGER REFERENCES genre(genre_id),
  milliseconds INTEGER NOT NULL, unit_price NUMERIC(10,2) NOT NULL);
CREATE TABLE playlist (playlist_id INTEGER PRIMARY KEY, name VARCHAR(120));
CREATE TABLE playlist_track (
  playlist_id INTEGER NOT NULL REFERENCES playlist(playlist_id),
  track_id INTEGER NOT NULL REFERENCES track(track_id),
  PRIMARY KEY (playlist_id, track_id));
CREATE TABLE track_rating (
  playlist_id INTEGER NOT NULL, track_id INTEGER NOT NULL, stars SMALLINT NOT NULL,
  FOREIGN KEY (playlist_id, track_id) REFERENCES playlist_track (playlist_id, track_id));
CREATE TABLE employee (
  employee_id INTEGER PRIMARY KEY, last_name VARCHAR(20) NOT NULL,
  first_name VARCHAR(20) NOT NULL, title VARCHAR(30), city VARCHAR(40),
  address VARCHAR(70), phone VARCHAR(24), email VARCHAR(60));
CREATE TABLE customer (
  customer_id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(20) NOT NULL, country VARCHAR(40), email VARCHAR(60) NOT NULL,
  phone VARCHAR(24), support_rep_id INTEGER REFERENCES employee(employee_id));
CREATE TABLE invoice (
  invoice_id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customer(customer_id),
  invoice_date TIMESTAMP NOT NULL, billing_city VARCHAR(40),
  total NUMERIC(10,2) NOT NULL);
"""

GENRES = (
    "Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae",
    "Pop", "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul",
    "Electronica/Dance", "World", "Hip Hop/Rap", "Science Fiction", "TV Shows",
    "Sci Fi & Fantasy", "Drama", "Comedy", "Alternative", "Classical", "Opera",
)  # fmt: skip
MEDIA = ("MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file",
         "Purchased AAC audio file", "AAC audio file")  # fmt: skip
TITLES = ("General Manager", "Sales Manager", "Sales Support Agent", "Sales Support Agent",
          "Sales Support Agent", "IT Manager", "IT Staff", "IT Staff")  # fmt: skip
COUNTRIES = 24
CITIES = 53
TRACKS = 600


def rows() -> dict[str, list[tuple]]:
    """Every table's rows, parents first."""
    tracks = [
        (t, f"Track {t}", 1 + t % 100, 1 + t % 5, 1 + (t * 7) % 25, 200_000 + t, 0.99)
        for t in range(1, TRACKS + 1)
    ]
    playlist_track = [(p, t) for p in range(1, 19) for t in range(p, TRACKS + 1, 7)]
    return {
        "artist": [(a, f"Artist {a:03d}") for a in range(1, 61)],
        "album": [(a, f"Album {a:03d}", 1 + a % 60) for a in range(1, 101)],
        "genre": [(g, name) for g, name in enumerate(GENRES, start=1)],
        "media_type": [(m, name) for m, name in enumerate(MEDIA, start=1)],
        "track": tracks,
        "playlist": [(p, f"Playlist {p:02d}") for p in range(1, 19)],
        "playlist_track": playlist_track,
        "track_rating": [(p, t, 1 + (p + t) % 5) for p, t in playlist_track[:200]],
        "employee": [
            (
                e,
                f"Last{e}",
                f"First{e}",
                TITLES[e - 1],
                "Calgary" if e < 6 else "Edmonton",
                f"{e}23 {e}th Street NW",
                f"+1 (403) 262-34{e:02d}",
                f"person{e}@example.com",
            )
            for e in range(1, 9)
        ],  # fmt: skip
        "customer": [
            (
                c,
                f"Given{c}",
                f"Family{c}",
                f"Country {c % COUNTRIES:02d}",
                f"c{c}@example.org",
                f"+55 12 3923-{c:04d}",
                3 + c % 3,
            )
            for c in range(1, 60)
        ],  # fmt: skip
        "invoice": [
            (
                i,
                1 + i % 59,
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00",
                f"City {i % CITIES:02d}",
                round(0.99 * (1 + i % 14), 2),
            )
            for i in range(1, 413)
        ],  # fmt: skip
    }


def build_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute(DDL)
        for table, values in rows().items():
            marks = ", ".join("?" * len(values[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return path
