"""The codes of ``plan``'s findings, in one place: the spec's ``acknowledge:`` entries are
checked against them when the spec is loaded, before any connection.

A new finding code is added here (tests/plan/test_acknowledge.py checks every code the plan
package emits is listed, with its severity).
"""

from __future__ import annotations

ERROR_CODES = frozenset(
    {
        "concat-from",
        "concat-type",
        "delete-column-mapped",
        "key-not-mapped",
        "key-transformed",
        "lookup-needed",
        "lookup-unknown",
        "missing-target-table",
        "no-key",
        "not-null-unfilled",
        "nullable-key",
        "partition-in-scope",
        "query-sql",
        "replace-range-foreign-rows",
        "second-pass-not-null",
        "second-pass-transform",
        "source-sql",
        "sql-after-python",
        "target-ddl",
        "unknown-column",
        "unknown-table",
        "unmappable-type",
        "write-mode-column",
    }
)
"""Codes of findings that stop ``run``: a spec or a schema datamove cannot move as it is."""

ACKNOWLEDGEABLE_ERRORS = frozenset({"replace-range-foreign-rows"})
"""The errors a spec may acknowledge, after which they no longer stop ``run``: each names a
risk the reviewer can judge and accept (``replace-range-foreign-rows``: a target chunk range
holds rows the source does not have, which ``replace_range`` would delete). Every other error
is a mapping that cannot work, which only a fix ends."""

RUN_GUARD_CODES = frozenset({"replace-range-foreign-rows"})
"""Codes found after the plan is resolved, by the guard ``run`` and ``plan`` add
(``verify.foreign``): resolution does not call an acknowledgement of one unused."""

ADVISORY_CODES = frozenset(
    {
        "acknowledge-unused",
        "charset-narrowing",
        "check-not-carried",
        "default-not-carried",
        "dual-write-replace",
        "enum-not-mapped",
        "fk-cycle",
        "fk-out-of-scope",
        "float-shrink",
        "float-to-decimal",
        "identity-not-carried",
        "index-not-carried",
        "integer-range-shrink",
        "naive-to-zoned",
        "one-way-column",
        "numeric-shrink",
        "parsed-from-text",
        "partition-alone",
        "partitioned",
        "partitioning-not-carried",
        "pii-undeclared",
        "query-unchecked",
        "second-pass",
        "self-reference",
        "slower-driver",
        "string-shrink",
        "timestamp-precision-loss",
        "type-mapping",
        "unconvertible-text",
        "unmapped-column",
        "zero-date",
        "zoned-to-naive",
    }
)
"""Codes of warnings and notes: what the reviewer should know; they never stop ``run``."""

FINDING_CODES = ERROR_CODES | ADVISORY_CODES
