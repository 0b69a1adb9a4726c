"""The spec's ``include:``/``exclude:``: source tables in scope by pattern beside ``tables:``
(the same language as ``--tables``/``--exclude``, ``spec.selection``)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.errors import SpecError
from datamove.spec.loader import parse_spec
from tests.conftest import execute, fetch
from tests.helpers import write_spec

runner = CliRunner()
TABLES = ["payment", "payment_2022", "payment_archive", "rental", "staff"]
BASE = {"name": "m", "source": "sqlite://", "target": "sqlite://"}


def _source(url: str) -> str:
    execute(
        url,
        *(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)" for t in TABLES),
        *(f"INSERT INTO {t} VALUES (1, 10), (2, 20)" for t in TABLES),
    )
    return url


def test_include_and_exclude_put_matching_tables_in_scope_beside_tables(
    tmp_path, sqlite_db
) -> None:
    src, tgt = _source(sqlite_db("src")), sqlite_db("tgt")
    spec = write_spec(
        tmp_path / "m.yaml",
        src,
        tgt,
        "  Staff_Copy: {source: staff, columns: {ident: id, amount: {}}}",
        include="['PAYMENT*']",
        exclude="['*_archive']",
    )
    migration = Migration.from_file(spec)
    assert sorted(migration.plan().tables) == ["Staff_Copy", "payment", "payment_2022"]
    migration.run()
    assert fetch(tgt, "SELECT count(*) FROM payment_2022") == [(2,)]
    assert fetch(tgt, "SELECT ident FROM Staff_Copy ORDER BY 1") == [(1,), (2,)]
    assert migration.verify().ok


def test_an_include_matching_nothing_is_a_spec_error_naming_it(tmp_path, sqlite_db) -> None:
    src = _source(sqlite_db("src"))
    spec = write_spec(
        tmp_path / "m.yaml", src, sqlite_db("tgt"), "  {}", include="[rental, pamyent*]"
    )
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 2
    assert "include[1]: no table matches 'pamyent*'" in result.output
    assert "did you mean payment" in result.output


def test_loader_errors_name_the_spec_path() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({**BASE, "tables": {}})
    assert caught.value.spec_path == "tables" and "include:" in str(caught.value)
    with pytest.raises(SpecError) as caught:
        parse_spec(
            {
                **BASE,
                "include": ["*"],
                "exclude": ["x", "Pay*"],
                "tables": {"p": {"source": "payment"}},
            }
        )
    assert caught.value.spec_path == "exclude[1]"
    assert "'Pay*' excludes table 'p', which tables: maps" in str(caught.value)
    assert parse_spec({**BASE, "include": ["*"]}).tables == {}


def test_status_lists_the_tables_include_selects_before_and_after_a_run(
    tmp_path, sqlite_db
) -> None:
    src, tgt = _source(sqlite_db("src")), sqlite_db("tgt")
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  {}", include="['payment*']")
    migration = Migration.from_file(spec)
    before = {t.table: t for t in migration.status().tables}
    assert sorted(before) == ["payment", "payment_2022", "payment_archive"]
    assert all(t.to_dict()["state"] == "not started" for t in before.values())
    migration.run(tables=("payment",))
    after = {t.table: t.to_dict()["state"] for t in migration.status().tables}
    assert after == {
        "payment": "done",
        "payment_2022": "not started",
        "payment_archive": "not started",
    }


def test_a_table_listed_then_gone_is_a_transient_error_the_plan_retries(sqlite_db) -> None:
    """DDL between listing the tables and reading one (a killed run's, an operator's) is a
    race the retry seam absorbs by listing again, not a bare 'items' error (fault suite)."""
    import sqlalchemy as sa

    from datamove.errors import TransientError
    from datamove.plan.resolve import _reflect

    engine = sa.create_engine(sqlite_db("src"))
    with engine.connect() as conn, pytest.raises(TransientError, match="'items' was listed"):
        _reflect(conn, "items", sa.MetaData(), "source")
    engine.dispose()
