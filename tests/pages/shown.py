"""What a page showed through ``workbench.markup`` (``st.html``), read back from an AppTest."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest


def fragments(page: AppTest) -> list[str]:
    """Every HTML fragment the page drew with ``st.html``, as sent to the browser."""
    return [element.proto.body for element in page.get("html")]


def text_of(fragment: str) -> str:
    """What a reader sees of a fragment: tags dropped, ``<br>`` a line break, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n")))


def notices(page: AppTest, kind: str) -> list[str]:
    """The text of each notice of ``kind`` (error, warning, info, success, caption)."""
    return [text_of(f) for f in fragments(page) if f'wb-notice-{kind}"' in f]


def banner(page: AppTest) -> str:
    """The workspace banner as a reader sees it, each value set off in backticks."""
    fragment = next(f for f in fragments(page) if 'class="wb-banner"' in f)
    return text_of(fragment.replace("<code>", "`").replace("</code>", "`"))
