"""One compiled mapping: the expression verification brings into canonical form for a column
is the one the copy reads, for every transform and every ordered pair of engines (on MySQL a
date is read as the server's text: the two used to differ there)."""

from __future__ import annotations

import itertools

import pytest

from datamove import Migration
from datamove.dialects.base import Dialect
from datamove.plan.compiled import CompiledPlan
from datamove.transforms import REGISTRY
from datamove.verify.mapped import map_table
from tests.conftest import ENGINES, execute
from tests.helpers import write_spec

SOURCE_DDL = (
    "CREATE TABLE src (id INTEGER PRIMARY KEY, txt VARCHAR(50), num DECIMAL(12,4), "
    "code INTEGER, day {timestamp}, doc VARCHAR(200))"
)
TIMESTAMP = {"postgresql": "timestamp", "mysql": "DATETIME", "sqlite": "DATETIME"}

# One column per transform (target name: spec), each on a source column it applies to.
COLUMNS = {
    "trim": "{from: txt, transform: [trim]}",
    "lower": "{from: txt, transform: [lower]}",
    "upper": "{from: txt, transform: [upper]}",
    "nullif": "{from: txt, transform: [{nullif: ''}]}",
    "default": "{from: txt, transform: [{default: none}]}",
    "normalize": "{from: txt, transform: [{normalize: NFC}]}",
    "round": "{from: num, transform: [{round: {places: 1, mode: half_up}}]}",
    "cast": "{from: num, transform: [{cast: 'decimal(12,2)'}]}",
    "map": "{from: code, transform: [{map: {values: {0: a, 1: b}, else: 'null'}}]}",
    "regex_replace": "{from: txt, transform: [{regex_replace: {pattern: 'a+', replace: b}}]}",
    "split": "{from: txt, transform: [{split: {sep: ' ', index: 0}}]}",
    "encoding": "{from: txt, transform: [{encoding: {decode: utf-8}}]}",
    "fix_mojibake": "{from: txt, transform: [fix_mojibake]}",
    "json_path": "{from: doc, transform: [{json_path: $.a}]}",
    "timezone": "{from: day, transform: [{timezone: {assume: Europe/Berlin}}]}",
    "uuid5": "{from: code, transform: [{uuid5: {namespace: "
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8, name: x}}]}",
    "when": "{from: day, transform: [{when: 'code > 0'}]}",
    "sql": "{transform: [{sql: 'code + 1'}], type: integer}",
    "concat": "{transform: [{concat: [txt, code]}]}",
    "python": "{from: txt, transform: [{python: 'tests.plan.test_compiled:shout'}]}",
    "plain_day": "{from: day}",
    "plain_num": "{from: num}",
}


def shout(value: str | None) -> str | None:
    return None if value is None else value.upper()


def test_every_transform_is_in_the_comparison() -> None:
    covered = {name for name in COLUMNS if name in REGISTRY}
    assert covered == set(REGISTRY), set(REGISTRY) - covered


@pytest.fixture
def sources(make_db) -> dict[str, str]:
    urls = {}
    for engine in ENGINES:
        urls[engine] = make_db(engine, f"src_{engine}")
        execute(urls[engine], SOURCE_DDL.format(timestamp=TIMESTAMP[engine]))
    return urls


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ENGINES, ENGINES)))
def test_verify_compares_what_the_copy_reads(sources, make_db, tmp_path, source, target) -> None:
    target_url = make_db(target, f"tgt_{source}_{target}")
    columns = "\n".join(f"      {name}: {spec}" for name, spec in COLUMNS.items())
    spec = write_spec(
        tmp_path / "m.yaml",
        sources[source],
        target_url,
        f"  src:\n    columns:\n      id:\n{columns}",
    )
    migration = Migration.from_file(spec)
    plan = migration.plan()
    src = Dialect.for_url(migration.spec.source, role="source")
    tgt = Dialect.for_url(migration.spec.target, role="target")
    table = CompiledPlan(plan, src, tgt)["src"]
    mapped = map_table(plan, table, 15, {})
    dialect = table.source.engine.dialect
    in_sql = 0
    for compared in mapped.columns:
        column = next(c for c in table.written if c.target == compared.name)
        read = table.expr(column).element  # the SELECT's column, without its label
        if compared.name in mapped.python_reasons:
            assert not column.pushdown or compared.canon.kind == "json", compared.name
            continue
        in_sql += 1
        assert compared.source_value is not None
        assert str(compared.source_value.compile(dialect=dialect)) == str(
            read.compile(dialect=dialect)
        ), compared.name
    assert in_sql >= 8  # the pushed-down transforms and plain columns of every engine
    src.dispose()
    tgt.dispose()
