"""The URLs a user writes, checked when they are read: model endpoints and database URLs.

Why here and not where they are used: a port of ``5543e`` or an endpoint without ``/v1`` used
to pass until the first query or model call, which then failed far from the line that caused
it (a 404 that blamed the model name). ``workbench.toml`` and the ``WORKBENCH_*`` variables
both check through these functions, so the file reports ``workbench.toml:LINE`` and the
environment names the variable, with the same words.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from workbench.errors import ConfigError

DEMO_DATABASE = "demo"
"""The database URL that means the demo database, built on demand."""
DATABASE_SCHEMES = ("postgresql://", "postgres://", "duckdb://")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

PASSWORD_HOME = "set PGPASSWORD or add a line HOST:PORT:DATABASE:USER:PASSWORD to ~/.pgpass"
"""Where a database password goes: every message about a password tells this one story."""

KEY_HOME = "set WORKBENCH_API_KEY (sent as the Bearer token)"
"""Where a model endpoint's key goes: every message about credentials in an endpoint says this."""

CREDENTIALS_PROBLEM = (
    f"holds credentials (USER:PASSWORD@), and endpoints are shown and stored: remove them "
    f"from the URL and {KEY_HOME}"
)

API_ROUTES = ("/chat/completions", "/completions", "/models", "/embeddings", "/responses")
"""Routes of the OpenAI API that a pasted endpoint may end in instead of the base URL."""


def endpoint_problem(url: str) -> str | None:
    """What makes ``url`` unusable as an OpenAI-compatible base URL, with the fix; or None.

    A URL with no path is refused with the hint to add ``/v1`` (vLLM serves its API there; a
    bare host answers 404 to every call). Other paths are accepted: a proxy may serve the API
    under its own prefix.
    """
    if _userinfo(url):
        return CREDENTIALS_PROBLEM
    try:
        parts = urlsplit(url)
        port = parts.port  # parsing the port raises for a bad one
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if port == 0:
        return "port 0"
    if parts.query or parts.fragment:
        return f"an OpenAI-compatible base URL has no ?query or #fragment; if it held a key, {KEY_HOME}"
    path = parts.path.rstrip("/")
    if not path:
        return f"it has no path: an OpenAI-compatible base URL ends in /v1; add it: {url.rstrip('/')}/v1"
    for route in API_ROUTES:
        if path.endswith(route):
            base = url.rstrip("/")[: -len(route)]
            return f"it ends in the API route {route}; give the base URL: {base}"
    return None


def check_endpoint(url: str) -> str:
    """``url`` without its trailing slash, or ValueError saying what is wrong and the fix."""
    url = url.strip()
    problem = endpoint_problem(url)
    if problem == CREDENTIALS_PROBLEM:
        raise ValueError(f"{redact_url(url)!r} {problem}")
    if problem:
        raise ValueError(
            f"{redact_url(url)!r} is not a usable http(s) base URL ({problem}); "
            "use e.g. http://gpu-box:8000/v1 or http://[::1]:8000/v1"
        )
    return url.rstrip("/")


def refuse_credentials(url: str) -> str:
    """``url`` unchanged, or ConfigError when it holds credentials: the last gate before a
    client that would send, show and record it (settings refuse them earlier, with the line)."""
    if _userinfo(url):
        raise ConfigError(f"the model endpoint {redact_url(url)} {CREDENTIALS_PROBLEM}")
    return url


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***``, for whatever shows or stores it.

    Why, when credentials are refused where URLs are read: a URL can still arrive another way
    (code that builds a client, a record written before the check), and a secret printed once
    is out. A database URL keeps its user name (libpq's role, not a secret); an http(s) URL
    loses all of its user info, since a lone user name there is usually the token, and its query
    (``?key=...``).
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https") and re.search(r"[?#]", url):
        url = re.split(r"[?#]", url, maxsplit=1)[0] + "?***"
    userinfo = _userinfo(url)
    if not userinfo:
        return url
    scheme, rest = url.split("://", 1)
    if scheme.lower() in ("http", "https") or ":" not in userinfo:
        shown = "***" if scheme.lower() in ("http", "https") else userinfo
    else:
        shown = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{shown}@{rest[len(userinfo) + 1 :]}"


def _userinfo(url: str) -> str:
    """The ``USER:PASSWORD`` part of ``url`` before its host, or "" (no parsing that can fail)."""
    if "://" not in url:
        return ""
    netloc = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0]
    return netloc.rpartition("@")[0]


def check_database_url(url: str) -> str:
    """``url`` stripped, or ValueError saying which forms are understood or what is wrong."""
    url = url.strip()
    if not (url == DEMO_DATABASE or url.startswith(DATABASE_SCHEMES)):
        raise ValueError(
            f"{url!r} is not a database URL; use postgresql://USER@HOST:PORT/DATABASE, "
            f"duckdb:///PATH.duckdb or {DEMO_DATABASE}"
        )
    if url.startswith(POSTGRES_SCHEMES):
        problem = _port_problem(url)
        if problem:
            raise ValueError(
                f"{redact_url(url)!r} {problem}; write it as "
                "postgresql://USER@HOST:PORT/DATABASE (PORT a number, 5432 by default)"
            )
    return url


def _port_problem(url: str) -> str | None:
    """A port that is not a number from 1 to 65535, in any host of the (libpq) host list."""
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    hosts = netloc.rsplit("@", 1)[-1]
    for host in hosts.split(","):
        found = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(.*))?", host)
        port = found[2] if found else None
        if port is None or port == "":
            continue
        if not port.isdigit():
            return f"has the port {port!r}, which is not a number"
        if not 1 <= int(port) <= 65535:
            return f"has the port {port}, outside 1-65535"
    return None
