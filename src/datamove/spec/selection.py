"""Which tables are in scope: shell-style patterns with exclusions, as Sling and pgloader users
write them (``--tables 'payment*' --exclude '*_archive'``, or ``include:``/``exclude:`` in a spec).

The pattern language, in one place for every command:

- a pattern is a shell glob (Python's ``fnmatch``): ``*`` any run of characters, ``?`` one
  character, ``[abc]`` / ``[!abc]`` one of / none of a set; a name without those is an exact name;
- matching ignores case (``Payment*`` matches ``payment_p2022_01``), as table names differ in
  case between engines;
- names are unqualified: datamove reads the connection's schema (PostgreSQL's ``search_path``,
  the URL's database on MySQL/MariaDB), so a pattern holding a ``.`` (``public.*``) is refused
  with that hint rather than silently matching nothing;
- a table listed in ``hidden`` (datamove's own state tables, partitions read through their root)
  is matched only by its exact name, never by a wildcard;
- the exclusions apply after the inclusions; a pattern (either kind) matching nothing is an error
  naming the pattern, with the nearest names.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Collection, Sequence

from datamove.errors import DatamoveError, SpecError, UsageError

_WILDCARDS = frozenset("*?[")


def is_pattern(text: str) -> bool:
    """Whether ``text`` holds a wildcard (else it names one table)."""
    return not _WILDCARDS.isdisjoint(text)


def matches(pattern: str, name: str, hidden: bool = False) -> bool:
    """Whether table ``name`` matches ``pattern`` (case-insensitive glob; a hidden table only
    by its exact name)."""
    if hidden or not is_pattern(pattern):
        return pattern.casefold() == name.casefold()
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def _near(pattern: str, names: Sequence[str]) -> str:
    """A hint with the names closest to ``pattern`` (its literal part), or every name."""
    literal = "".join(ch for ch in pattern if ch not in "*?[]!").casefold()
    folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(literal, list(folded), n=3, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(folded[c] for c in close) + "?"
    shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
    return f"tables are: {shown}" if names else "there are no tables"


def _error(where: str, message: str, hint: str, spec: bool) -> DatamoveError:
    if spec:
        return SpecError(message, spec_path=where, hint=hint)
    return UsageError(f"{where}: {message}", hint=hint)


def select_tables(
    names: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    hidden: Collection[str] = (),
    include_at: str = "--tables",
    exclude_at: str = "--exclude",
    spec: bool = False,
) -> list[str]:
    """The ``names`` selected by ``include`` (all but ``hidden`` when empty) minus ``exclude``:
    in the order of the patterns, each pattern's matches in the order of ``names``.

    ``include_at``/``exclude_at`` say where the patterns came from, for errors: an option
    (``UsageError``), or with ``spec`` a spec path (``SpecError``; ``[i]`` is appended).
    """

    def where(at: str, i: int) -> str:
        return f"{at}[{i}]" if spec else at

    for at, patterns in ((include_at, include), (exclude_at, exclude)):
        for i, pattern in enumerate(patterns):
            if "." in pattern and not any(matches(pattern, n) for n in names):
                raise _error(
                    where(at, i),
                    f"'{pattern}' is schema-qualified; table names are matched without a schema",
                    "drop the schema prefix; the URL chooses the schema (PostgreSQL: "
                    "?options=-csearch_path=NAME)",
                    spec,
                )
    chosen: list[str] = []
    for i, pattern in enumerate(include):
        found = [n for n in names if matches(pattern, n, n in hidden)]
        if not found:
            raise _error(
                where(include_at, i), f"no table matches '{pattern}'", _near(pattern, names), spec
            )
        chosen.extend(n for n in found if n not in chosen)
    if not include:
        chosen = [n for n in names if n not in hidden]
    for i, pattern in enumerate(exclude):
        dropped = [n for n in chosen if matches(pattern, n)]
        if not dropped:
            raise _error(
                where(exclude_at, i),
                f"no table in scope matches '{pattern}'",
                _near(pattern, chosen),
                spec,
            )
        chosen = [n for n in chosen if n not in dropped]
    if exclude and not chosen:
        raise _error(
            where(exclude_at, 0),
            "the exclusions leave no table in scope",
            "exclude fewer tables",
            spec,
        )
    return chosen
