"""Text transforms: trim, lower, upper, normalize, regex_replace, encoding, fix_mojibake.

Pushdown only where every engine's SQL gives exactly what Python gives: ``trim`` (spaces, the
SQL standard's TRIM) everywhere, ``normalize`` where the engine has it. Case mapping is not
pushed down: engines map case by collation or ASCII only (SQLite), Python by full Unicode
rules ('ß'.upper() is 'SS'), and a transform must mean one thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, invertible, kept_original

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect


def _text(transform: Transform, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise RowError(None, f"{transform.name}: expected text, got {type(value).__name__}", value)


def _on_text(transform: Transform, values: list[Any], method: Callable[[str], Any]) -> list[Any]:
    """``transform.apply`` on each value, where ``apply`` is ``method`` on a ``str``: that is
    called directly (no method call and type check per value), anything else (None, a str
    subclass, a non-text value) goes through ``apply``."""
    slow = transform.apply
    return [method(v) if type(v) is str else slow(v) for v in values]


class Trim(Transform):
    """``trim`` — remove leading and trailing spaces (U+0020), as SQL's TRIM does."""

    name = "trim"

    def apply(self, value: Any) -> Any:
        return None if value is None else _text(self, value).strip(" ")

    def apply_batch(self, values: list[Any]) -> list[Any]:
        return _on_text(self, values, lambda v: v.strip(" "))

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        return sa.func.trim(expr)

    def inversion(self, given: Given) -> Inversion:
        return kept_original("leading and trailing spaces are lost", fixed=True)

    def describe(self) -> str:
        return "leading and trailing spaces removed"


class Lower(Transform):
    """``lower`` — Unicode lower case (Python's full case mapping)."""

    name = "lower"

    def apply(self, value: Any) -> Any:
        return None if value is None else _text(self, value).lower()

    def apply_batch(self, values: list[Any]) -> list[Any]:
        return _on_text(self, values, str.lower)

    def inversion(self, given: Given) -> Inversion:
        return kept_original("the original case is lost", fixed=True)

    def describe(self) -> str:
        return "converted to lower case"


class Upper(Transform):
    """``upper`` — Unicode upper case (Python's full case mapping: 'ß' becomes 'SS')."""

    name = "upper"

    def apply(self, value: Any) -> Any:
        return None if value is None else _text(self, value).upper()

    def apply_batch(self, values: list[Any]) -> list[Any]:
        return _on_text(self, values, str.upper)

    def inversion(self, given: Given) -> Inversion:
        return kept_original("the original case is lost", fixed=True)

    def describe(self) -> str:
        return "converted to upper case"


_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


class Normalize(Transform):
    """``normalize: NFC`` — Unicode normalization form NFC, NFD, NFKC or NFKD."""

    name = "normalize"

    def validate(self) -> None:
        if self.args not in _FORMS:
            raise self.fail(f"normalize takes one of {', '.join(_FORMS)}, not {self.args!r}")

    def apply(self, value: Any) -> Any:
        return None if value is None else unicodedata.normalize(self.args, _text(self, value))

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        return dialect.pushdown.normalize(expr, self.args)

    def inversion(self, given: Given) -> Inversion:
        return kept_original(
            f"texts differing only in their Unicode form become one {self.args} text",
            fixed=True,
        )

    def describe(self) -> str:
        return f"Unicode-normalized to {self.args}"


class RegexReplace(Transform):
    """``regex_replace: {pattern: RE, replace: TEXT}`` — Python regular expressions (``\\1``
    for groups); every match is replaced. Not pushed down: regex dialects differ."""

    name = "regex_replace"

    def validate(self) -> None:
        if not isinstance(self.args, dict) or set(self.args) != {"pattern", "replace"}:
            raise self.fail("regex_replace takes {pattern: ..., replace: ...}")
        try:
            self.pattern = re.compile(str(self.args["pattern"]))
        except re.error as exc:
            raise self.fail(f"invalid regular expression: {exc}") from None
        self.replacement = str(self.args["replace"])
        # \s+ with a literal replacement (no backslash: no group references or escapes) puts
        # the replacement for every run of white space; str.split() cuts at exactly those runs
        # (both use Py_UNICODE_ISSPACE), ~2.5x faster than the regular expression engine.
        self.collapses_space = (
            self.pattern.pattern == r"\s+"
            and self.pattern.flags == re.UNICODE
            and "\\" not in self.replacement
        )

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.pattern.sub(self.replacement, _text(self, value))
        except (re.error, IndexError) as exc:
            raise RowError(None, f"regex_replace: {exc}", value) from None

    def apply_batch(self, values: list[Any]) -> list[Any]:
        sub, replacement, slow = self.pattern.sub, self.replacement, self.apply
        if self.collapses_space:
            return [_collapse_space(v, replacement) if type(v) is str else slow(v) for v in values]
        try:
            return [sub(replacement, v) if type(v) is str else slow(v) for v in values]
        except Exception:  # noqa: BLE001 - apply on each value raises exactly what it raises
            return super().apply_batch(values)

    def inversion(self, given: Given) -> Inversion:
        return kept_original("the replaced matches are lost")

    def describe(self) -> str:
        return f"matches of /{self.pattern.pattern}/ replaced by {self.replacement!r}"


def _collapse_space(text: str, replacement: str) -> str:
    """``re.sub(r"\\s+", replacement, text)`` for a literal ``replacement``."""
    words = text.split()
    if not words:
        return replacement if text else text
    out = replacement.join(words)
    if text[0].isspace():
        out = replacement + out
    if text[-1].isspace():
        out += replacement
    return out


class Encoding(Transform):
    """``encoding: {decode: latin1}`` — bytes decoded from the given encoding; bytes that are
    not valid in it make the row a reject (never replaced by '?')."""

    name = "encoding"

    def validate(self) -> None:
        import codecs

        encoding = self.args.get("decode") if isinstance(self.args, dict) else None
        try:
            self.codec = codecs.lookup(str(encoding)).name
        except LookupError:
            raise self.fail(f"unknown encoding {encoding!r}") from None

    def apply(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, bytes | bytearray | memoryview):
            raise RowError(None, f"encoding: expected bytes, got {type(value).__name__}", value)
        try:
            return bytes(value).decode(self.codec)
        except UnicodeDecodeError as exc:
            raise RowError(
                None,
                f"encoding: byte {exc.object[exc.start]:#04x} at {exc.start} is not valid "
                f"{self.codec}",
                value,
            ) from None

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def inversion(self, given: Given) -> Inversion:
        if self.codec != "utf-8" and not self.codec.startswith(EXACT_CODECS):
            return kept_original(f"{self.codec} can decode different bytes to the same text")
        return invertible(
            f"encoded back as {self.codec}",
            "encode",
            lambda text: text.encode(self.codec) if isinstance(text, str) else text,
            codec=self.codec,
        )

    def describe(self) -> str:
        return f"bytes decoded as {self.codec}; invalid bytes reject the row"


EXACT_CODECS = ("ascii", "iso8859-", "cp125", "cp437", "cp850", "mac-")
"""Single-byte codecs (``codecs.lookup`` names) whose strict decoding is one-to-one, as is
utf-8's: the text encodes back to the very bytes (utf-8-sig or stateful ones may not)."""


class FixMojibake(Transform):
    """``fix_mojibake`` — repair UTF-8 text that was read as Latin-1/cp1252 ('MÃ¼ller' →
    'Müller'). Text that is not such mojibake passes unchanged; text that looks like it but
    does not decode is a reject."""

    name = "fix_mojibake"

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        text = _text(self, value)
        if text.isascii():
            return text
        for codec in ("cp1252", "latin-1"):
            try:
                raw = text.encode(codec)
            except UnicodeEncodeError:
                continue  # has characters outside this code page: not mojibake of it
            try:
                fixed = raw.decode("utf-8")
            except UnicodeDecodeError:
                if any(0xC2 <= b <= 0xF4 for b in raw):
                    raise RowError(
                        None, "fix_mojibake: looks like mojibake but is not valid UTF-8", value
                    ) from None
                return text
            return fixed
        return text

    def inversion(self, given: Given) -> Inversion:
        return kept_original("text that was mojibake and text that was not can give the same text")

    def describe(self) -> str:
        return "UTF-8 text that was read as Latin-1/cp1252 repaired"


class Split(Transform):
    """``split: {sep: " ", index: 0, maxsplit: 1, missing: null | reject}`` — one part of the
    value split on ``sep`` (a column per part: split one source column into several targets).

    ``maxsplit`` limits the cuts (``{sep: " ", index: 1, maxsplit: 1}`` is everything after the
    first space). A part that is not there is NULL, or a reject with ``missing: reject``.
    """

    name = "split"

    def validate(self) -> None:
        allowed = {"sep", "index", "maxsplit", "missing"}
        if not isinstance(self.args, dict) or set(self.args) - allowed or "index" not in self.args:
            raise self.fail("split takes {sep: TEXT, index: N, maxsplit: N, missing: null|reject}")
        self.sep = str(self.args.get("sep", " "))
        self.index = self.args["index"]
        self.maxsplit = self.args.get("maxsplit", -1)
        missing = self.args.get("missing") or "null"
        if not self.sep or not isinstance(self.index, int) or not isinstance(self.maxsplit, int):
            raise self.fail("split needs a non-empty sep and integer index and maxsplit")
        if missing not in ("null", "reject"):
            raise self.fail("split missing is null or reject")
        self.reject_missing = missing == "reject"

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        parts = _text(self, value).split(self.sep, self.maxsplit)
        if -len(parts) <= self.index < len(parts):
            return parts[self.index]
        if self.reject_missing:
            raise RowError(None, f"split: no part {self.index} in {len(parts)} part(s)", value)
        return None

    def may_return_null(self) -> bool:
        return not self.reject_missing

    def inversion(self, given: Given) -> Inversion:
        return kept_original(f"only part {self.index} of the text is kept")

    def describe(self) -> str:
        return f"part {self.index} of the text split on {self.sep!r}"
