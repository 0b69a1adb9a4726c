"""``datamove diff`` as a reladiff user meets it, and the values in verify's JSON.

The differing values in ``--json`` and ``--diff-out`` are JSON values (NULL is null, every
other value its canonical text, a decimal exactly ``"9.99"``), never Python's repr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import execute
from tests.helpers import write_spec

PAYMENT = "CREATE TABLE {name} (id INT PRIMARY KEY, amount NUMERIC(5,2), note VARCHAR(20))"


def datamove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _payments(url: str, name: str, rows: str) -> None:
    execute(url, PAYMENT.format(name=name), f"INSERT INTO {name} VALUES {rows}")


def test_diff_json_holds_json_values_not_python_repr(pg_db: str, tmp_path: Path) -> None:
    _payments(pg_db, "a", "(1, 9.99, 'x'), (2, 1.00, NULL), (3, 2.50, '')")
    _payments(pg_db, "b", "(1, 9.98, 'x'), (2, 1.00, 'NULL'), (3, 2.50, 'it''s')")
    out = tmp_path / "diff.json"
    args = ("diff", pg_db, pg_db, "--table", "a", "--target-table", "b")
    proc = datamove(*args, "--json", "--diff-out", str(out))
    assert proc.returncode == 1, proc.stderr
    changed = {
        "1": {"amount": {"source": "9.99", "target": "9.98"}},
        "2": {"note": {"source": None, "target": "NULL"}},
        "3": {"note": {"source": "", "target": "it's"}},
    }
    report = json.loads(proc.stdout)
    checksum = next(c for c in report["checks"] if c["kind"] == "checksum")
    assert {r["key"][0]: r["columns"] for r in checksum["details"]["changed"]} == changed
    (written,) = json.loads(out.read_text())
    assert {r["key"][0]: r["columns"] for r in written["changed"]} == changed

    text = datamove(*args)
    assert text.returncode == 1
    assert text.stdout.startswith("diff"), text.stdout
    assert "verify" not in text.stdout
    assert "amount: '9.99' → '9.98'" in text.stdout
    assert "note: NULL → 'NULL'" in text.stdout
    assert "note: '' → \"it's\"" in text.stdout


def test_verify_json_values_are_json_and_pii_stays_masked(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE payment (id INT PRIMARY KEY, amount NUMERIC(5,2), email VARCHAR(40))",
        "INSERT INTO payment VALUES (1, 9.99, 'ann@example.com'), (2, 1.00, NULL)",
    )
    table = "  payment:\n    columns:\n      id: {}\n      amount: {}\n      email: {pii: true}\n"
    spec = write_spec(tmp_path / "m.yaml", source, target, table)
    spec.write_text(
        spec.read_text().replace(
            "tables:\n", "checks:\n  samples:\n    - {table: payment, rows: 10}\ntables:\n"
        )
    )
    assert datamove("--quiet", "run", str(spec)).returncode == 0
    execute(target, "UPDATE payment SET amount = 9.98, email = 'bob@example.com' WHERE id = 1")
    proc = datamove("verify", str(spec), "--json")
    assert proc.returncode == 1, proc.stderr
    checks = {c["kind"]: c for c in json.loads(proc.stdout)["checks"]}
    (row,) = checks["checksum"]["details"]["changed"]
    assert row["columns"]["amount"] == {"source": "9.99", "target": "9.98"}
    masked = row["columns"]["email"]
    assert masked["source"].startswith("str(an") and "example" not in masked["source"]
    (sampled,) = checks["sample"]["details"]["differences"]
    assert sampled["columns"]["amount"] == ["9.99", "9.98"]
    assert "'" not in json.dumps(checks)
