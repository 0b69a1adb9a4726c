"""Redaction: passwords are masked by pattern, and by value once this process has seen them."""

from __future__ import annotations

import io
import secrets

from datamove.redact import (
    RedactingStream,
    redact_text,
    redact_url,
    remember_secrets_in,
    remember_url,
)


def _secret() -> str:
    return "pw-" + secrets.token_hex(8)


def test_password_like_query_parameters_are_masked_in_urls() -> None:
    url = "postgresql://u@h/db?sslmode=require&password=abcdef&sslpassword=ghijkl&token=mnopqr"
    shown = redact_url(url)
    assert "abcdef" not in shown and "ghijkl" not in shown and "mnopqr" not in shown
    assert "sslmode=require" in shown and shown.count("***") == 3


def test_a_known_password_is_masked_wherever_it_appears() -> None:
    pw = _secret()
    remember_url(f"mysql+pymysql://app:{pw}@db:3306/shop")
    # no scheme:// before it (a YAML snippet, a driver's message): masked by value
    assert pw not in redact_text(f"  target: 'app:{pw}@db:3306/shop' <- here")
    assert redact_text(f"x {pw} y") == "x *** y"


def test_encoded_forms_of_a_password_are_masked_too() -> None:
    tail = secrets.token_hex(6)
    pw = 'p@ss/"' + tail
    encoded = "p%40ss%2F%22" + tail
    remember_url(f"postgresql://u:{encoded}@h/db")
    for text in (pw, encoded, 'p@ss/\\"' + tail):  # as written, URL-encoded, JSON-escaped
        assert tail not in redact_text(text), text


def test_secrets_in_unparsed_text_are_learnt() -> None:
    pw, token = _secret(), _secret()
    remember_secrets_in(f"source: postgresql://u:{pw}@h/db\ntarget: mysql://h/db?api_key={token}")
    assert redact_text(f"{pw} and {token}") == "*** and ***"


def test_short_passwords_are_masked_only_by_pattern() -> None:
    remember_url("postgresql://u:pw@h/db")
    assert redact_text("pw in a sentence") == "pw in a sentence"
    assert redact_text("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


def test_the_stream_masks_every_write_and_keeps_the_terminal_question() -> None:
    pw = _secret()
    remember_url(f"postgresql://u:{pw}@h/db")
    buffer = io.StringIO()
    stream = RedactingStream(buffer)
    stream.write(f"error: {pw}\n")
    stream.writelines([f"{pw}\n"])
    assert buffer.getvalue() == "error: ***\n***\n" and stream.isatty() is False
