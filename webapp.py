"""The web server: the pages of ``app.py`` behind a content-security policy.

``streamlit run webapp.py`` (``make run``) serves the app through Streamlit's own ASGI server
(``st.App``) with one middleware that adds security headers to every HTTP answer. The policy
lets the page load only from the workbench itself: should a page ever render untrusted text as
markup after all, the browser still fetches no image, style, script or frame from another host
(``workbench.markup`` is the first line; this is the second). Streamlit has no setting for
response headers, and a ``<meta>`` policy would have to be in the page's ``<head>`` before
anything else loads, which a script cannot arrange.

``streamlit run app.py`` still works, without the headers.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # Streamlit's page has an inline bootstrap script; charts compile code at run time.
        "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",  # no image from another host, ever
        "font-src 'self' data:",
        "media-src 'self' data: blob:",
        "connect-src 'self'",  # the page's websocket goes back to the server it came from
        "frame-src 'self' blob: data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: every HTTP response gets ``SECURITY_HEADERS``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


app = st.App("app.py", middleware=[Middleware(SecurityHeaders)])
