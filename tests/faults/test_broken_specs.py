"""A corpus of broken specs: each one exits 2 with a message naming where it is wrong, and the
target stays untouched (nothing created: no table, no state store)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute
from tests.faults.conftest import bounded
from tests.faults.corpus import HAND_WRITTEN, Case, base_spec, dump, mutations, text_mutations
from tests.helpers import create_orders, database_objects

pytestmark = pytest.mark.faults
runner = CliRunner()


def _corpus(source: str, target: str, spec_file: Path) -> list[Case]:
    spec = base_spec(source, target)
    hand = [Case(name, text, expect) for name, text, expect in HAND_WRITTEN]
    issue = [  # the reproductions of issue 14, item 6
        Case(
            "cast decimal(100000,2)",
            _with(spec, "amount", {"cast": "decimal(100000,2)"}),
            "tables.orders.columns.amount",
        ),
        Case("bad where", _with(spec, "where", "id >>> 0"), "tables.orders.where"),
        Case(
            "unknown aggregates table",
            dump({**spec, "checks": {"aggregates": [{"table": "nope", "columns": ["amount"]}]}}),
            "checks.aggregates[0].table",
        ),
        Case("port abc", dump({**spec, "target": re.sub(r":\d+/", ":abc/", target)}), "target"),
        Case("broken IPv6", dump({**spec, "target": "postgresql://u@[::1/db"}), "target"),
    ]
    generated = [*mutations(spec), *text_mutations(dump(spec), spec_file.name)]
    return [*issue, *hand, *bounded(generated, 30)]


def wipe(url: str) -> None:
    """Drop whatever a wrongly accepted spec created."""
    for name in database_objects(url):
        schema, _, table = name.rpartition(".")
        if schema == "datamove" or name == "datamove":
            execute(url, "DROP SCHEMA IF EXISTS datamove CASCADE")
        elif table:
            execute(url, f'DROP TABLE IF EXISTS "{table}"' if schema else f"DROP TABLE {table}")


def _with(spec: dict, what: str, value: object) -> bytes:
    table = dict(spec["tables"]["orders"])
    if what == "where":
        table["where"] = value
    else:
        table["columns"] = {**table["columns"], what: {"from": what, **value}}
    return dump({**spec, "tables": {"orders": table}})


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql"])
def test_every_broken_spec_exits_2_naming_its_path_and_creates_nothing(
    make_db, tmp_path: Path, target_engine: str
) -> None:
    source, target = make_db("sqlite", "src"), make_db(target_engine, "tgt")
    create_orders(source, "sqlite", 20)
    spec_file = tmp_path / "broken.yaml"
    spec_file.write_bytes(dump(base_spec(source, target)))
    valid = runner.invoke(app, ["plan", str(spec_file)])
    assert valid.exit_code == 0, valid.output  # the spec every mutation starts from is sound

    corpus = _corpus(source, target, spec_file)
    wrong = []
    for case in corpus:
        spec_file.write_bytes(case.text)
        result = runner.invoke(app, ["run", str(spec_file)])
        output = result.output
        problems = [
            f"exit {result.exit_code}" if result.exit_code != 2 else "",
            f"does not name {case.expect!r}" if case.expect not in output else "",
            "traceback" if "Traceback" in output or "internal error" in output else "",
            f"target touched: {database_objects(target)}" if database_objects(target) else "",
        ]
        if any(problems):
            wrong.append(f"{case.name}: {'; '.join(p for p in problems if p)}\n{output}")
            wipe(target)  # so that one case's damage is not blamed on the next
    print(f"\nbroken specs: {len(corpus)}, clean exit 2: {len(corpus) - len(wrong)}")
    assert not wrong, "\n".join(wrong)
