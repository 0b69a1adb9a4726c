"""Real sample datasets (Chinook, Sakila, Pagila) loaded once per session into scratch databases.

The scripts come from ``tests.conftest.DATASETS`` and are loaded with the ``mariadb`` and ``psql``
clients, with their database names rewritten to a unique scratch name so that parallel runs never
collide; the scratch databases are dropped at the end of the session. A missing dataset folder or
client skips; an unreachable server skips, or fails under DATAMOVE_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import DATASETS, MYSQL_URL, PG_URL, _unavailable

CHINOOK = DATASETS / "chinook"
SAKILA = DATASETS / "sakila"
CENT = Decimal("0.01")


def require_dataset(folder: Path) -> Path:
    """``folder``, or skip when the shared datasets are not next to the repository."""
    if not folder.is_dir():
        pytest.skip(f"dataset folder not found: {folder} (expected at ../shared/datasets)")
    return folder


def _client(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"the `{name}` command-line client is not installed")
    return path


def _check_server(kind: str, url: sa.URL) -> sa.Engine:
    """An AUTOCOMMIT admin engine on ``url``; skips (or fails) when the server is unreachable."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        engine.dispose()
        _unavailable(kind, exc)
    return engine


def _run_client(argv: list[str], script: str, env: dict[str, str], what: str) -> None:
    proc = subprocess.run(
        argv, input=script.encode("utf-8"), env=env, capture_output=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"loading {what} failed (exit {proc.returncode}): {stderr[-2000:]}")


class ScratchServers:
    """Loads SQL scripts into uniquely named databases and drops them all at session end."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(4)
        self.created: list[tuple[sa.Engine, str, str]] = []

    def name(self, dataset: str) -> str:
        return f"dm_ds_{dataset}_{self.token}"

    def _track(self, admin: sa.Engine, kind: str, name: str) -> None:
        self.created.append((admin, kind, name))

    def mariadb(self, name: str, scripts: list[str]) -> str:
        """Pipe each script (already renamed to ``name``) through ``mariadb``; the DB's URL."""
        url = sa.engine.make_url(MYSQL_URL)
        client = _client("mariadb")
        admin = _check_server("mysql", url)
        self._track(admin, "mysql", name)
        argv = [
            client,
            "--protocol=TCP",
            f"-h{url.host or '127.0.0.1'}",
            f"-P{url.port or 3306}",
            f"-u{url.username or 'root'}",
            "--default-character-set=utf8mb4",
            "--batch",
        ]
        env = {**os.environ, "MYSQL_PWD": url.password or ""}
        for i, script in enumerate(scripts, start=1):
            _run_client(argv, script, env, f"{name} (mariadb script {i})")
        return url.set(database=name).render_as_string(hide_password=False)

    def postgresql(self, name: str, script: str) -> str:
        """Pipe ``script`` (already renamed to ``name``) through ``psql``; the DB's URL."""
        url = sa.engine.make_url(PG_URL)
        client = _client("psql")
        admin = _check_server("postgresql", url)
        self._track(admin, "postgresql", name)
        argv = [
            client,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            "postgres",
        ]
        env = {**os.environ, "PGCLIENTENCODING": "UTF8", "PGTZ": "UTC"}
        if url.password:
            env["PGPASSWORD"] = url.password
        _run_client(argv, script, env, f"{name} (psql)")
        return url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for admin, kind, name in reversed(self.created):
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            quoted = f'"{name}"' if kind == "postgresql" else f"`{name}`"
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
            admin.dispose()


@pytest.fixture(scope="session")
def scratch() -> Iterator[ScratchServers]:
    servers = ScratchServers()
    yield servers
    servers.drop_all()


# -- Chinook --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chinook_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    src = require_dataset(CHINOOK) / "sqlite" / "Chinook_Sqlite.sqlite"
    dest = tmp_path_factory.mktemp("chinook") / "chinook.sqlite"
    shutil.copyfile(src, dest)
    dest.chmod(0o644)
    return f"sqlite:///{dest}"


@pytest.fixture(scope="session")
def chinook_mysql(scratch: ScratchServers) -> str:
    script = (require_dataset(CHINOOK) / "mysql" / "Chinook_MySql.sql").read_text("utf-8")
    name = scratch.name("chinook")
    # DROP DATABASE / CREATE DATABASE / USE all name it as `Chinook`, and nothing else does.
    renamed = script.replace("`Chinook`", f"`{name}`")
    # Keep the 4 backslashes in Track names, as PostgreSQL and SQLite do (LOADING.md 4.1).
    mode = "SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES';\n"
    return scratch.mariadb(name, [mode + renamed])


@pytest.fixture(scope="session")
def chinook_postgresql(scratch: ScratchServers) -> str:
    script = (require_dataset(CHINOOK) / "postgresql" / "Chinook_PostgreSql.sql").read_text("utf-8")
    name = scratch.name("chinook")
    renamed = re.sub(
        r"^(DROP DATABASE IF EXISTS |CREATE DATABASE |\\c )chinook;",
        rf"\g<1>{name};",
        script,
        flags=re.MULTILINE,
    )
    return scratch.postgresql(name, renamed)


@pytest.fixture
def chinook(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``chinook(engine)``: the URL of the session's Chinook database on that engine."""
    return lambda engine: str(request.getfixturevalue(f"chinook_{engine}"))


# -- Sakila ---------------------------------------------------------------------------------


def rename_sakila(script: str, name: str) -> str:
    """Point the Sakila scripts' schema statements, USE and view bodies at ``name``."""
    script = re.sub(
        r"^(DROP SCHEMA IF EXISTS |CREATE SCHEMA |USE )sakila;",
        rf"\g<1>{name};",
        script,
        flags=re.MULTILINE,
    )
    # Views qualify tables as sakila.film; e-mail addresses (@sakilacustomer.org) are untouched.
    script = re.sub(r"(?<=[\s(])sakila\.(?=[a-z_])", f"{name}.", script)
    # MariaDB ignores MySQL-5.7-only executable comments (/*!50700../*!99999), so unwrap the
    # address.location GEOMETRY column, its SPATIAL key and its WKB values (LOADING.md assumed
    # MariaDB runs them; it does not, and the column would silently be missing).
    return re.sub(r"/\*!50705 (.*?)\*/", r"\1", script)


@pytest.fixture(scope="session")
def sakila_mysql(scratch: ScratchServers) -> str:
    folder = require_dataset(SAKILA) / "mysql"
    name = scratch.name("sakila")
    scripts = [
        rename_sakila((folder / f).read_text("utf-8"), name)
        for f in ("sakila-mv-schema.sql", "sakila-mv-data.sql")
    ]
    return scratch.mariadb(name, scripts)


@pytest.fixture(scope="session")
def pagila_postgresql(scratch: ScratchServers) -> str:
    """Pagila (LOADING.md §4.2): pg_dump scripts that name no database, loaded into a new one."""
    folder = require_dataset(SAKILA) / "postgresql"
    name = scratch.name("pagila")
    scripts = [(folder / f).read_text("utf-8") for f in ("pagila-schema.sql", "pagila-data.sql")]
    return scratch.postgresql(name, f"CREATE DATABASE {name};\n\\c {name}\n" + "\n".join(scripts))


# -- helpers over any engine -----------------------------------------------------------------


def user_tables(url: str) -> list[str]:
    """The database's tables, without datamove's own state tables."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    return sorted(n for n in names if not n.startswith("datamove_"))


def row_counts(url: str, tables: list[str]) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            count = sa.select(sa.func.count())
            return {t: conn.execute(count.select_from(sa.table(t))).scalar_one() for t in tables}
    finally:
        engine.dispose()


def scalar(url: str, query: sa.Select[Any]) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


def to_cents(value: Any) -> Decimal:
    """A SUM as Decimal rounded to the cent (SQLite returns floats, the servers Decimals)."""
    return Decimal(str(value)).quantize(CENT)
