"""A password canary: a full sequence of commands, failing ones included, and then a grep for
the passwords in everything they left — stdout and stderr, every file, every row of every
table of both databases (the state store too).

Generic on purpose: the test does not know where a password could leak; it looks everywhere,
for each secret as written, URL-encoded, and for any 8 characters of it in a row (a message cut
inside a password leaks its first characters).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

import datamove
from tests.conftest import MYSQL_URL, execute
from tests.faults.conftest import FULL

pytestmark = pytest.mark.faults
WINDOW = 8


def _canary() -> str:
    return "Cnry" + secrets.token_hex(10)


def _fragments(secret: str) -> set[str]:
    """What counts as a leak of ``secret``: itself, encoded, or any WINDOW characters of it."""
    windows = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    return {secret, quote(secret, safe=""), *windows}


@pytest.fixture
def mysql_user(mysql_db: str) -> Iterator[tuple[str, str]]:
    """A MariaDB login with a canary password on the test database: (URL, password)."""
    user, password = f"dmc_{secrets.token_hex(4)}", _canary()
    db = sa.engine.make_url(mysql_db).database
    hosts = ("%", "localhost", "127.0.0.1")
    for host in hosts:
        execute(
            MYSQL_URL,
            f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'",
            f"GRANT ALL ON `{db}`.* TO '{user}'@'{host}'",
        )
    url = sa.engine.make_url(mysql_db).set(username=user, password=password)
    yield url.render_as_string(hide_password=False), password
    for host in hosts:
        execute(MYSQL_URL, f"DROP USER IF EXISTS '{user}'@'{host}'")


def _rows(url: str) -> Iterator[str]:
    """Every value of every table in every schema of the database at ``url``, as text."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            schemas = [
                s
                for s in inspector.get_schema_names()
                if s not in ("information_schema", "pg_catalog", "performance_schema", "mysql")
                and not s.startswith("pg_")
            ]
            if engine.dialect.name == "mysql":
                schemas = [None]  # the test database only
            for schema in schemas:
                for name in inspector.get_table_names(schema=schema):
                    table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
                    for row in conn.execute(sa.select(table)):
                        yield "\t".join(repr(v) for v in row)
    finally:
        engine.dispose()


def _run(tmp: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env,
        timeout=300,
    )
    shown = " ".join(a if "://" not in a else "URL" for a in args)  # not the test's own secrets
    return f"$ datamove {shown} → {done.returncode}\n{done.stdout}{done.stderr}"


def test_no_password_in_any_output_file_or_state_row(
    pg_db: str, mysql_db: str, mysql_user: tuple[str, str], tmp_path: Path
) -> None:
    target, target_pw = mysql_user
    source_pw = "Cn@ry/" + secrets.token_hex(10)  # PostgreSQL here trusts: any password works
    source = pg_db.replace("postgres@", f"postgres:{quote(source_pw, safe='')}@")
    query_pw, wrong_pw = _canary(), _canary()
    execute(
        pg_db,
        "CREATE TABLE accounts (id int PRIMARY KEY, email text, balance numeric(12,2))",
        "INSERT INTO accounts SELECT g, 'u' || g || '@example.com', g * 1.5 "
        "FROM generate_series(1, 50) g",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(datamove.__file__).resolve().parents[1]),  # this checkout
        "DATAMOVE_SOURCE_URL": source,
        "DATAMOVE_TARGET_URL": target,
        "COLUMNS": "60",  # narrow tables fold long cells across lines
    }
    by_query = f"{pg_db}?password={query_pw}"
    wrong_login = target.replace(target_pw, wrong_pw)
    inline = f"name: m\nsource: '{source}'\ntarget: '{target}'\ntables: {{accounts: {{}}}}\n"
    broken_yaml = inline.replace("tables:", "   tables: [").replace(
        "name: m", "name: m\nnote: '" + "x" * 60
    )
    specs = {
        "inline.yaml": inline,
        "broken.yaml": broken_yaml,
        "bad_where.yaml": inline.replace("{accounts: {}}", "{accounts: {where: 'id >>> 0'}}"),
        "bad_port.yaml": inline.replace(":3306/", ":abc/"),
        "wrong_login.yaml": inline.replace(target_pw, wrong_pw),
        "unreachable.yaml": inline.replace(":3306/", ":1/"),
        "dup_key.yaml": inline + f"source: '{source}'\n",
    }
    for name, text in specs.items():
        (tmp_path / name).write_text(text)

    commands = [
        ("init", "--source", source, "--target", target, "-o", "spec.yaml"),
        ("init", "--source", by_query, "--target", target),
        ("plan", "spec.yaml", "--json", "--doc", "mapping.html"),
        ("run", "spec.yaml"),
        ("verify", "spec.yaml", "--diff-out", "diff.json"),
        ("status", "spec.yaml", "--json"),
        ("diff", source, wrong_login, "--table", "accounts"),
        ("plan", "broken.yaml"),
        ("--debug", "run", "wrong_login.yaml"),
        ("--debug", "plan", "bad_where.yaml"),
    ]
    if FULL:
        commands += [
            ("init", "--source", by_query, "--target", target, "-o", "q.yaml"),
            ("plan", "spec.yaml", "--doc", "mapping.md"),
            ("run", "spec.yaml", "--json"),
            ("verify", "spec.yaml", "--json"),
            ("repair", "spec.yaml"),
            ("status", "spec.yaml", "--rejects"),
            ("diff", source, target, "--table", "accounts"),
            ("sync", "spec.yaml", "--until-lag", "0"),
            ("capture", "status", "inline.yaml"),
            *(("plan", name) for name in specs),
            *(("run", name) for name in specs),
            ("status", "inline.yaml"),
        ]
    outputs = [_run(tmp_path, env, *command) for command in commands]
    assert "→ 0" in outputs[3] and "all checks passed" in outputs[4], outputs[3] + outputs[4]
    assert "→ 3" in outputs[8] and "→ 2" in outputs[9], outputs[8] + outputs[9]

    files = {
        str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace")
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name not in specs  # the inline specs hold them by design
    }
    places = {
        **{f"output of {out.splitlines()[0]}": out for out in outputs},
        **{f"file {name}": text for name, text in files.items()},
        "source rows": "\n".join(_rows(pg_db)),
        "target rows": "\n".join(_rows(mysql_db)),
    }
    leaks = [
        f"{where}: {fragment[:3]}…"
        for secret in (source_pw, target_pw, query_pw, wrong_pw)
        for fragment in _fragments(secret)
        for where, text in places.items()
        if fragment in text
    ]
    print(
        f"\ncanary: {len(outputs)} commands, {len(files)} files, {len(places)} places, "
        f"{len(leaks)} hit(s)"
    )
    assert "***" in "".join(outputs)  # passwords were there to mask
    assert leaks == [], leaks
