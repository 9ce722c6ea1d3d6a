"""URL settings: which are well formed, and how one may be echoed in a message."""

from __future__ import annotations

from urllib.parse import urlsplit

URL_SCHEMES = ("http", "https")
EXPECTED_URL = "expected an absolute http(s) URL such as https://host/path"
SHOWN_URL_CHARS = 100
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_http_url(value: str) -> bool:
    if not value or any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in URL_SCHEMES and bool(parts.hostname)


def shown_url(value: str) -> str:
    """A URL setting as it may be echoed: no query or fragment, no user or password, bounded."""
    kept = value.split("?", 1)[0].split("#", 1)[0]
    scheme, separator, rest = kept.partition("://")
    if separator:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        kept = f"{scheme}://{authority}{slash}{path}"
    return kept if len(kept) <= SHOWN_URL_CHARS else kept[:SHOWN_URL_CHARS] + "…"
