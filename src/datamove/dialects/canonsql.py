"""Verification's SQL, engine by engine: values in the canonical text form of
``core.canonical``, row digests and their exact sums, random samples.

Each ``Dialect`` owns one ``CanonicalSQL`` (``dialect.canonical``). It is stateless: it builds
expressions, compiled later by its dialect's engine, and never holds a connection. This base
class is the SQL that several engines share; ``pgcanonical`` and ``mysqlcanonical`` hold the
rest (SQLite's, which calls the Python reference itself, is in ``sqlite``). A conformance test
(``tests/verify/test_canonical.py``) holds every engine's SQL to the Python reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import DIGEST_HEX, Canon, Frame, frames_of
from datamove.core.types import TypeInfo

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect


class NativeHash(Protocol):
    """An engine's own row hash for verify (``pghash`` is PostgreSQL's)."""

    def family(self, t: sa.types.TypeEngine[Any]) -> str | None: ...
    def probe(self, conn: Connection, families: Sequence[str]) -> int | None: ...
    def row_hash(self, values: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]: ...
    def digest(self, h: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]: ...


class CanonicalSQL:
    """The verification SQL of one engine (this base: what several engines share)."""

    NATIVE_HASH: ClassVar[NativeHash | None] = None
    """Between two databases of this engine: the engine's own row hash, for columns of equal
    hash families (cheaper than hashing their canonical text); None: canonical text only."""

    NATIVE_JSON_CANONICAL: ClassVar[bool] = False
    """JSON of two databases of this engine can be compared in the engine's own normal form
    (across engines, JSON is compared in Python)."""

    ONE_CORE_PER_QUERY: ClassVar[bool] = False
    """Runs a query on one core (no parallel workers): verify splits a large scan in two."""

    FENCED_LAYERS: ClassVar[bool] = True
    """A checksum query computes canonical values, row hash and sums in fenced layers
    (``OFFSET 0``); without fences (MySQL, which materializes every fenced layer as a
    temporary table), values used twice in one row are computed twice instead."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    # -- values ----------------------------------------------------------------------------

    def text(
        self, expr: sa.ColumnElement[Any], canon: Canon, info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        """``expr`` (of type ``info``) in the canonical text form ``canon``, NULL kept NULL;
        None when this engine cannot compute exactly that text (the column is then compared
        in Python). Must agree with ``core.canonical.canonical``: a conformance test holds it.
        """
        return None

    def digest_text(self, canonical: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``canonical`` (of ``text``) as a row digest takes it: the same text, by a cheaper
        way where the engine has one."""
        return canonical

    def utf8(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The UTF-8 bytes of ``expr``'s text (read as bytes: no decoding in the driver)."""
        return sa.cast(sa.cast(expr, sa.Text), sa.LargeBinary)

    def char_length(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Length of a text in characters (code points)."""
        return sa.func.char_length(expr)

    def random(self) -> sa.ColumnElement[Any]:
        """A uniform random number in [0, 1), drawn per row (sampling without a sort)."""
        return sa.func.random()

    # -- row digests and their sums ----------------------------------------------------------

    def row_hash(
        self, parts: Sequence[sa.ColumnElement[Any]], frames: Sequence[bool]
    ) -> sa.ColumnElement[Any]:
        """The MD5 hex of a row's canonical ``parts`` (``core.canonical.digest``), each
        written by ``digest_part``; pass column references, not expressions."""
        joined: list[sa.ColumnElement[Any]] = []
        for p, frame in zip(parts, frames_of(frames), strict=True):
            joined += [sa.literal("|")] if joined else []
            joined.append(self.digest_part(p, frame))
        concat = self.dialect.pushdown.concat
        return sa.func.md5(concat(joined) if len(joined) > 1 else joined[0])

    def digest_part(self, p: sa.ColumnElement[Any], frame: Frame) -> sa.ColumnElement[Any]:
        """One canonical value as a digest writes it: ``-`` for NULL, else as ``frame`` says
        (``canonical.frames_of``)."""
        if frame == "none":
            return sa.func.coalesce(p, sa.literal("-"))
        length = [self.char_length(p)] if frame == "length" else []
        encoded = self.dialect.pushdown.concat([*length, sa.literal(":"), p])
        return sa.case((p.is_(None), sa.literal("-")), else_=encoded)

    def digest(self, md5: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The digest of a row hash (``row_hash``): its first ``DIGEST_HEX`` hex digits."""
        return self.hex_int(sa.func.substr(md5, 1, DIGEST_HEX))

    def hex_int(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The integer value of a short hexadecimal text."""
        raise NotImplementedError

    def int_div(self, a: sa.ColumnElement[Any], b: int) -> sa.ColumnElement[Any]:
        """Integer division of the integer ``a`` by ``b`` (a key range's number)."""
        return a // b

    def exact_sum(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The exact sum of 56-bit digests over up to billions of rows."""
        return sa.func.sum(expr)


def plain_column(expr: sa.ColumnElement[Any]) -> bool:
    """A table's column itself (its type is the one classified), not an expression over it."""
    return isinstance(expr, sa.ColumnClause) and not expr.is_literal
