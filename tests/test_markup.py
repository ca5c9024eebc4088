"""Untrusted text into markup: inert for HTML and Markdown, one line, and safe for terminals."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.payloads import PAYLOADS
from workbench.markup import MARKDOWN_SPECIALS, escape, notice_html, terminal_text, text_html


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "br":
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(fragment: str) -> Parsed:
    parser = Parsed()
    parser.feed(fragment)
    parser.close()
    return parser


def one_kind_of_line_break(text: str) -> str:
    return re.sub(r"\r\n|\r|\n|\u2028|\u2029", "\n", text)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_is_text_with_no_markup_left(payload: str) -> None:
    fragment = escape(payload)
    assert set(parsed(fragment).tags) <= {"br"}
    assert "".join(parsed(fragment).text) == one_kind_of_line_break(payload)
    outside_entities = re.sub(r"&#?\w+;", "", fragment)
    assert not any(mark in outside_entities for mark in MARKDOWN_SPECIALS)
    assert "\n" not in fragment and "\r" not in fragment


@given(st.text())
def test_any_text_is_one_inert_line_that_reads_back_the_same(text: str) -> None:
    fragment = text_html(text)
    assert parsed(fragment).tags == ["div"] + ["br"] * parsed(fragment).tags.count("br")
    assert "".join(parsed(fragment).text) == one_kind_of_line_break(text)
    assert "\n" not in fragment and "\r" not in fragment


def test_a_notice_escapes_its_title_and_its_text() -> None:
    fragment = notice_html("error", "<b>boom</b>\n![x](http://h/p.png)", title="**Kind**")
    assert parsed(fragment).tags == ["div", "b", "br"]
    assert "".join(parsed(fragment).text) == "**Kind**: <b>boom</b>\n![x](http://h/p.png)"
    assert 'class="wb-notice wb-notice-error"' in fragment


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # colours
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # a new window title
        ("\x9b2J", "\\x9b2J"),  # the one-byte CSI
        ("over\rwrite", "over\\x0dwrite"),  # a carriage return rewrites the line
        ("admin\u202egnp.exe", "admin\\u202egnp.exe"),  # text shown in another order
        ("tabs\tand\nlines stay", "tabs\tand\nlines stay"),
        ("naïve ✓ 日本", "naïve ✓ 日本"),
    ],
)
def test_terminal_text_shows_control_characters_as_escapes(text: str, shown: str) -> None:
    assert terminal_text(text) == shown
