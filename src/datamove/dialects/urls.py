"""Whether a string can be a database URL at all, said without repeating it (it may hold a
password): the spec loader asks before any dialect is built."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a database URL, or None; the reason never repeats the URL (it
    may hold a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a database URL; write one such as postgresql+psycopg://user@host:5432/db"
    except ValueError:
        return (
            "the URL's host or port cannot be read: a port is a number, an IPv6 host is "
            "written in brackets (postgresql://user@[::1]:5432/db)"
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is out of range (1-65535)"
    return None
