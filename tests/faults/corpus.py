"""A corpus of broken specs: hand-written ones and mutations of one valid spec.

Each case is the file's bytes and what the error message must name (a spec path such as
``tables.orders.where``, or the file for a file that is not YAML at all). Every mutation is
chosen to be invalid whatever the data: a typo in a field name, a value of the wrong type, a
required field removed, a name that does not exist, SQL the server refuses, a type the target
cannot create, a URL that cannot be read, bytes that are not UTF-8 YAML.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Case:
    name: str
    text: bytes
    expect: str
    """Text the error message must contain: the spec path (or the file's name)."""


def base_spec(source: str, target: str) -> dict[str, Any]:
    """A valid spec over ``tests.helpers.create_orders``' table."""
    return {
        "name": "shop",
        "source": source,
        "target": target,
        "max_rejects": 0,
        "batch_size": 100,
        "write_mode": "replace_range",
        "sync": {"mode": "none"},
        "tables": {
            "orders": {
                "source": "orders",
                "key": {"columns": ["id"]},
                "where": "qty >= 0",
                "columns": {
                    "id": {"from": "id"},
                    "qty": {"from": "qty", "cast": "integer"},
                    "amount": {"from": "amount", "transform": [{"round": {"places": 2}}]},
                    "currency": {"from": "currency", "transform": ["trim", "upper"]},
                    "status": {"from": "status", "type": "varchar(16)"},
                    "created": {"from": "created"},
                    "note": {"from": "note", "pii": True},
                    "paid": {"from": "paid"},
                    "payload": {"from": "payload"},
                },
                "drop": [],
            }
        },
        "checks": {
            "aggregates": [{"table": "orders", "columns": ["amount"], "group_by": ["currency"]}],
            "samples": [{"table": "orders", "rows": 10}],
            "float_digits": 15,
        },
        "invariants": [
            {
                "name": "row count",
                "source": "SELECT count(*) FROM orders",
                "target": "SELECT count(*) FROM orders",
            }
        ],
    }


def dump(spec: Any) -> bytes:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).encode()


def _path(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _leaves(node: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*parts, k))
    elif isinstance(node, list) and node:
        for i, v in enumerate(node):
            yield from _leaves(v, (*parts, i))
    else:
        yield parts, node


def _mappings(node: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of the mappings that are models (fixed field names), not name → spec dicts."""
    if isinstance(node, dict):
        if parts[-1:] not in {("tables",), ("columns",)}:
            yield parts
        for k, v in node.items():
            yield from _mappings(v, (*parts, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _mappings(v, (*parts, i))


def _set(spec: dict[str, Any], parts: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    node: Any = out
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


def _delete(spec: dict[str, Any], parts: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    node: Any = out
    for p in parts[:-1]:
        node = node[p]
    del node[parts[-1]]
    return out


REQUIRED = [
    ("name",),
    ("source",),
    ("target",),
    ("tables",),
    ("tables", "orders", "key", "columns"),
    ("checks", "aggregates", 0, "table"),
    ("checks", "aggregates", 0, "columns"),
    ("checks", "samples", 0, "table"),
    ("invariants", 0, "name"),
    ("invariants", 0, "source"),
    ("invariants", 0, "target"),
]
NAMES = {  # leaves naming a table or a column: a name that does not exist is an error
    ("tables", "orders", "source"),
    ("tables", "orders", "key", "columns", 0),
    ("checks", "aggregates", 0, "table"),
    ("checks", "aggregates", 0, "columns", 0),
    ("checks", "aggregates", 0, "group_by", 0),
    ("checks", "samples", 0, "table"),
} | {("tables", "orders", "columns", c, "from") for c in ("id", "qty", "amount", "note")}
SQL = {
    ("tables", "orders", "where"): ["qty >>> 0", "no_such_column > 0", "qty > 'x' +* 1"],
    ("invariants", 0, "source"): ["SELEC count(*) FROM orders", "SELECT count(*) FROM nope"],
}
VALUES = {  # leaves with values of the right type that are still wrong
    ("batch_size",): [0, -5, "many"],
    ("max_rejects",): [-1, "none"],
    ("name",): ["has space", "", "x" * 101, "naïve"],
    ("write_mode",): ["overwrite", {"upsert_if_newer": {}}],
    ("sync", "mode"): ["logical", "watermark"],
    ("checks", "float_digits"): [0, 99],
    ("checks", "samples", 0, "rows"): [0, 10**9],
    ("tables", "orders", "columns", "qty", "cast"): ["decimal", "decimal(2,5)", "money"],
    ("tables", "orders", "columns", "status", "type"): ["nonsense", "varchar(10^12)"],
    ("tables", "orders", "columns", "amount", "transform", 0): [
        {"round": {"places": 1.5}},
        {"round": {"places": "two"}},
        {"rund": {"places": 2}},
        {"round": {"places": 2}, "trim": None},
    ],
    ("tables", "orders", "columns", "currency", "transform", 1): ["uppr", {"map": "x"}],
    ("tables", "orders", "columns", "note", "pii"): ["maybe", [1]],
    ("tables", "orders", "key", "columns"): [[], "no_such_column"],
    ("source",): [
        "postgresql://u@127.0.0.1:abc/db",
        "postgresql://u@[::1/db",
        "postgresql://u@h:99999/db",
        "nonsense",
        "foo://h/db",
        "postgresql+nodriver://h/db",
        "",
        "${NO_SUCH_VARIABLE_DM}",
    ],
}


T = ("tables", "orders")
C = ("tables", "orders", "columns")
EDITS: list[tuple[tuple[Any, ...], Any]] = [  # wrong in what they mean, not in their shape
    ((*C, "extra"), {}),  # no source column 'extra'
    ((*C, "qty", "lookup"), "nope"),
    ((*C, "qty", "on_orphan"), "maybe"),
    ((*C, "qty", "transform"), [{"sql": "no_such_function(qty)"}]),
    ((*C, "note", "transform"), [{"when": {"sql": "qty >>> 1", "value": None}}]),
    ((*C, "note", "target_default"), "nonsense((("),
    ((*C, "note", "nullable"), "sometimes"),
    ((*T, "key", "strategy"), "uuid5"),  # needs a namespace
    ((*T, "key", "namespace"), "not-a-uuid"),
    ((*T, "deletes"), {"mode": "soft", "when": "qty = 0"}),  # needs column
    ((*T, "deletes"), {"mode": "skip", "when": "no_such_column = 1"}),
    ((*T, "deletes"), {"mode": "soft", "when": "qty = 0", "column": "qty", "value": True}),
    ((*T, "write_mode"), {"upsert_if_newer": {"column": "no_such_column"}}),
    ((*T, "batch_size"), 0),
    (("sync",), {"mode": "watermark", "column": "no_such_column"}),
    (("sync",), {"direction": "bidirectional"}),
    (("sync", "skew_margin"), "soon"),
    (("cutover",), {"mode": "big_bang"}),
    (("checks", "shadow"), [{"name": "s", "source": "SELECT 1", "target": "SELEC 1"}]),
    (("checks", "aggregates", 0, "count_distinct"), ["no_such_column"]),
    (("invariants", 0, "tolerance"), {"pct": -1}),
    (("tables",), {}),
    (("tables",), []),
    (("tables",), {"orders": {"source": "orders"}, "nope": {}}),
]


def mutations(spec: dict[str, Any]) -> Iterator[Case]:
    """Invalid variants of ``spec``, each with the spec path its error must name."""
    for parts, value in EDITS:
        yield Case(f"edit {_path(parts)}={value}", dump(_set(spec, parts, value)), _at(parts))
    for parts in _mappings(spec):
        if "transform" in parts:
            continue  # a transform step and its arguments: checked by VALUES
        for key in list(_key_names(spec, parts))[:1]:
            path = _path((*parts, key + "x"))
            yield Case(f"typo {path}", dump(_set(spec, (*parts, key + "x"), 1)), path)
    for parts, value in _leaves(spec):
        if not isinstance(value, str | int | bool):
            continue
        other_kind = 42 if isinstance(value, str) else "x"
        # an error in a transform's arguments names the transform step
        path = _path(parts[: parts.index("transform") + 2] if "transform" in parts else parts)
        for kind, wrong in (("mapping", {"oops": [1]}), ("list", [1]), ("kind", other_kind)):
            yield Case(f"{kind} at {_path(parts)}", dump(_set(spec, parts, wrong)), path)
    for parts in REQUIRED:
        yield Case(f"without {_path(parts)}", dump(_delete(spec, parts)), _at(parts[:2]))
    for parts in sorted(NAMES, key=str):
        yield Case(f"unknown name at {_path(parts)}", dump(_set(spec, parts, "nope_x")), _at(parts))
    for parts, texts in SQL.items():
        for i, text in enumerate(texts):
            yield Case(
                f"bad sql {i} at {_path(parts)}", dump(_set(spec, parts, text)), _path(parts)
            )
    for parts, values in VALUES.items():
        for i, value in enumerate(values):
            yield Case(f"value {i} at {_path(parts)}", dump(_set(spec, parts, value)), _at(parts))


def _at(parts: tuple[Any, ...]) -> str:
    """The path an error about ``parts`` names at least: the column, or the section."""
    if parts[0] != "tables":
        return _path(parts[:1])
    return _path(parts[:4] if parts[2:3] == ("columns",) else parts[:3])


def _key_names(spec: dict[str, Any], parts: tuple[Any, ...]) -> list[str]:
    node: Any = spec
    for p in parts:
        node = node[p]
    return [k for k in node if isinstance(k, str)]


def text_mutations(text: bytes, origin: str) -> Iterator[Case]:
    """Byte- and line-level damage: not UTF-8, not YAML, a key given twice."""
    lines = text.split(b"\n")
    for i in (0, 5, len(lines) // 2):
        damaged = [*lines[:i], lines[i] + b" \xff\xfe", *lines[i + 1 :]]
        yield Case(f"not utf-8 at line {i + 1}", b"\n".join(damaged), origin)
    for i in (1, 8, len(lines) // 2):
        tabbed = [*lines[:i], b"\t" + lines[i], *lines[i + 1 :]]
        yield Case(f"tab at line {i + 1}", b"\n".join(tabbed), origin)
    yield Case("nul byte", text.replace(b"tables:", b"tables:\x00"), origin)
    yield Case("unclosed flow", text.replace(b"drop: []", b"drop: [a"), origin)
    for key in (b"name:", b"  orders:", b"    where:", b"      qty:"):
        at = next(i for i, line in enumerate(lines) if line.startswith(key))
        deeper = b" " * (len(key) - len(key.lstrip()) + 1)
        end = at + 1
        while end < len(lines) and lines[end].startswith(deeper):
            end += 1
        doubled = [*lines[:end], *lines[at:end], *lines[end:]]
        yield Case(f"duplicate {key.strip().decode()}", b"\n".join(doubled), "given twice")


HAND_WRITTEN = [
    ("empty file", b"", "must be a YAML mapping"),
    ("a list", b"- name: x\n", "must be a YAML mapping"),
    ("a scalar", b"just text\n", "must be a YAML mapping"),
    ("two documents", b"name: a\n---\nname: b\n", "not valid YAML"),
    ("bad date", b"name: 2020-13-45\n", "not valid YAML"),
    ("deep nesting", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "not valid YAML"),
    ("python tag", b"name: !!python/object:os.system x\n", "not valid YAML"),
    ("unknown anchor", b"name: *nope\n", "not valid YAML"),
]
