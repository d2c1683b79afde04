"""Where the board may send a browser back to: only its own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PAGE = "/board"


def same_site_path(target: str, default: str = DEFAULT_PAGE) -> str:
    """``target`` if it is a path on this site, else ``default``.

    Browsers drop tabs and line breaks from a URL and read ``\\`` as ``/``, so
    ``/\\t/evil.example`` and ``/\\evil.example`` are ``//evil.example``: another site.
    A path with any control character, white space or backslash is refused outright
    rather than cleaned, and what is left must split as a path with no scheme or host.
    """
    if not target.startswith("/") or target.startswith("//"):
        return default
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
