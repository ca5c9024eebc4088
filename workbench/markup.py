"""Untrusted text into markup: the one place where model output, questions, SQL, result cells,
server errors and URL values become HTML, or terminal output.

Three rules, each closing a way text has turned into markup before:

- **Escaped for HTML and for Markdown.** ``& < > " '`` become entities, and so does every
  character that starts Markdown syntax (``! [ ] * _ ` ~ # | $ \\``), so a fragment stays inert
  even if a Markdown renderer reads it: ``![x](http://host/p.png)`` is text, not an image.
- **One line.** Line breaks become ``<br>``. A blank line inside an HTML block ends the block
  in CommonMark, and a renderer then reads the rest as Markdown; a fragment without a newline
  can never be split that way.
- **Never through a Markdown renderer.** Renderers turn bare URLs (``http://…``, ``www.…``,
  ``user@host``) into links *after* decoding escapes, so no escaping makes text safe inside
  Markdown. Pages therefore show fragments from here with ``st.html``, which parses no Markdown,
  and show untrusted text in notices built here (``notice_html``) rather than in ``st.error``,
  ``st.warning``, ``st.info`` or ``st.caption``, which render their message as Markdown. Code
  goes to ``st.code``, tables to ``st.dataframe``: both show text as text.

For terminals, ``terminal_text`` neutralises escape sequences: an ANSI sequence in a model's
answer or a stored question could otherwise recolour, move the cursor or retitle the terminal.
"""

from __future__ import annotations

import re
from typing import Literal

MARKDOWN_SPECIALS = "\\`*_[]!#|~$"
"""Characters that open Markdown syntax (and Streamlit's ``:color[...]`` and ``$math$``)."""
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in MARKDOWN_SPECIALS} | {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("'"): "&#x27;",
}
"""One table, applied in one pass: escaping twice would escape the first pass's ``&`` and ``#``."""
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029")

NoticeKind = Literal["error", "warning", "info", "success", "caption"]
_NOTICE_STYLES: dict[NoticeKind, str] = {
    "error": "background:#fdecea;color:#7d1a14;",
    "warning": "background:#fff6e0;color:#7a4a00;",
    "info": "background:#e8f1fd;color:#0b3d78;",
    "success": "background:#e7f6ec;color:#0f5223;",
    "caption": "color:#667085;font-size:0.875rem;padding:0;",
}
_BOX = "padding:0.75rem 1rem;border-radius:0.5rem;margin:0.25rem 0;line-height:1.5;"


def escape(text: str) -> str:
    """``text`` as inert HTML: entities for HTML and Markdown syntax, ``<br>`` for line breaks."""
    return _NEWLINES.sub("<br>", text.translate(_ENTITIES))


def text_html(text: str, css_class: str = "wb-text") -> str:
    """Untrusted text as one HTML block that keeps its line breaks."""
    return f'<div class="{css_class}">{escape(text)}</div>'


def notice_html(kind: NoticeKind, text: str, *, title: str = "") -> str:
    """A notice box (error, warning, info, success) or a caption, for text that is not ours.

    Args:
        title: a bold lead-in (also escaped), e.g. the kind of an error.
    """
    style = _NOTICE_STYLES[kind] + ("" if kind == "caption" else _BOX)
    lead = f"<b>{escape(title)}</b>: " if title else ""
    return f'<div class="wb-notice wb-notice-{kind}" style="{style}">{lead}{escape(text)}</div>'


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` safe to print: control characters (ESC first of all) shown as ``\\xNN`` escapes.

    Tabs and newlines stay; so does every printable character. Bidirectional overrides, which
    can make a terminal show text in another order than it is, are shown escaped too.
    """
    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
