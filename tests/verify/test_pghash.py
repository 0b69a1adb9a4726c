"""Which PostgreSQL columns verify may digest by the servers' own type hashes.

A column qualifies only when equal hashes mean equal canonical forms and both sides hash it
with the same function: the family names the function and what else must match.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from datamove.dialects import pghash
from datamove.dialects.base import Dialect
from tests.conftest import execute


def test_hash_families_of_reflected_columns(make_db: Any) -> None:
    url = make_db("postgresql", "fam")
    execute(
        url,
        "CREATE TYPE mood AS ENUM ('sad', 'ok')",
        "CREATE TABLE f (i int, b bigint, n1 numeric(12,2), n2 numeric(12,3), v varchar(9),"
        " t text, c char(3), ts timestamp(6), tz timestamptz(6), ts3 timestamp(3), j jsonb,"
        ' js json, e mood, a int[], x text COLLATE "C", d double precision, tm time)',
    )
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn:
            table = sa.Table("f", sa.MetaData(), autoload_with=conn)
            families = {c.name: pghash.family(c.type) for c in table.columns}
            used = sorted({f for f in families.values() if f is not None})
            probe = pghash.probe(conn, used)
            assert probe is not None and probe == pghash.probe(conn, used)  # deterministic
    finally:
        dialect.dispose()
    assert families["i"] == "int4" and families["b"] == "int8"  # different hash functions
    assert families["n1"] != families["n2"]  # the canonical form is at the target's scale
    assert families["v"] == families["t"] == families["x"] == "text"
    assert families["c"] == "bpchar"  # its hash ignores the padding, as the canonical form
    assert families["ts"] != families["tz"] and families["ts"] != families["ts3"]
    assert families["j"] == "jsonb" and families["d"] == "float8"
    # json has no hash, an enum's is its OID in one database, arrays and time are not covered
    assert families["js"] is None and families["e"] is None and families["a"] is None
    assert families["tm"] is None
