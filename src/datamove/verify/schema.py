"""The ``schema`` check: the target's schema objects are the ones the plan says.

For a table datamove created: its primary key, NOT NULL columns, defaults, identity columns,
indexes and unique keys, CHECKs and foreign keys (and whether each foreign key is valid). For
every table: each generator (identity, sequence, auto-increment) must be past the largest
value in its column, or the application's next insert collides. A missing or invalid object
fails the check with its name and the command whose step makes it.
"""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import Check, StepKind
from datamove.dialects.base import Dialect
from datamove.plan.model import TablePlan
from datamove.verify.checks import timed

RUN = "`datamove run SPEC` makes it"
SYNC = "`datamove sync SPEC --until-lag 0` validates it once caught up"


def schema_check(
    plan: TablePlan,
    target: Dialect,
    tgt: Connection,
    steps: dict[tuple[str, str], str],
    online: bool,
) -> Check:
    """Compare the target's catalog with the plan; ``steps``: the table's step statuses by
    (kind, name)."""
    name = f"{plan.name}: schema"

    def body() -> Check:
        problems: list[dict[str, str]] = []
        checked = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            insp = sa.inspect(tgt)
            if not insp.has_table(plan.name):
                problems.append({"object": f"table {plan.name}", "problem": "missing", "fix": RUN})
            else:
                table = sa.Table(plan.name, sa.MetaData(), autoload_with=tgt)
                if plan.create:
                    checked += _created(plan, target, tgt, insp, table, steps, online, problems)
                checked += _generators(plan, target, tgt, table, problems)
        return Check(
            name,
            "schema",
            plan.name,
            "failed" if problems else "passed",
            f"{checked} object(s) as planned",
            f"{len(problems)} missing or different" if problems else f"{checked} as planned",
            {"problems": problems, "created_by_datamove": plan.create},
        )

    return timed(name, "schema", plan.name, body)


def _created(
    plan: TablePlan,
    target: Dialect,
    tgt: Connection,
    insp: Any,
    table: sa.Table,
    steps: dict[tuple[str, str], str],
    online: bool,
    problems: list[dict[str, str]],
) -> int:
    """The objects of a table datamove created; returns how many were compared."""
    desired = plan.desired_table
    assert desired is not None

    def problem(what: str, issue: str, fix: str = RUN) -> None:
        problems.append({"object": what, "problem": issue, "fix": fix})

    want_key = [c.name for c in desired.primary_key.columns]
    have_key = [c.name for c in table.primary_key.columns]
    if want_key != have_key:
        problem("primary key", f"({', '.join(have_key)}), the plan has ({', '.join(want_key)})")
    count = 1
    planned = {c.target: c for c in plan.columns}
    for col in desired.columns:
        have = table.columns.get(col.name)
        if have is None:
            problem(f"column {col.name}", "missing")
            continue
        count += 1
        if bool(have.nullable) != bool(col.nullable):
            problem(
                f"column {col.name}",
                "NOT NULL" if not have.nullable else "nullable, the plan says NOT NULL",
            )
        spec = planned.get(col.name)
        if spec is not None and spec.identity and not target.schema.generates(have, table):
            problem(f"column {col.name}", "does not generate its values (identity)")
        if spec is not None and spec.default_sql and have.server_default is None:
            problem(f"default of {col.name}", f"missing (the plan has {spec.default_sql})")
    names = target.schema.index_names(tgt, table)
    for index in plan.indexes:
        count += 1
        if index.name not in names:
            problem(f"index {index}", "missing")
    checks = {c.get("name") for c in insp.get_check_constraints(plan.name)}
    for check in plan.checks:
        count += 1
        if check.name not in checks:
            problem(f"CHECK {check.name} ({check.sql})", "missing")
    present = {f["name"] for f in insp.get_foreign_keys(plan.name)}
    validity = target.schema.foreign_key_validity(tgt, table)
    for fk in plan.foreign_keys:
        count += 1
        if target.FOREIGN_KEYS_AFTER_LOAD and fk.name not in present:
            problem(f"foreign key {fk}", "missing")
            continue
        step = steps.get((StepKind.validate.value, fk.name))
        valid = validity.get(fk.name)
        if valid is None:  # the engine records no validity: the validation step does
            valid = step == "done"
        if not valid and step != "accepted":  # accepted: its orphans are recorded rejects
            problem(f"foreign key {fk}", "not validated against the rows", SYNC if online else RUN)
    return count


def _generators(
    plan: TablePlan,
    target: Dialect,
    tgt: Connection,
    table: sa.Table,
    problems: list[dict[str, str]],
) -> int:
    """Each generator must give a value past the largest in its column."""
    for column in plan.sequences:
        following = target.schema.next_generated(tgt, table, column)
        largest = tgt.execute(sa.select(sa.func.max(table.c[column]))).scalar()
        if following is not None and largest is not None and following <= int(largest):
            problems.append(
                {
                    "object": f"generator of {column}",
                    "problem": f"gives {following} next, but {largest} is taken",
                    "fix": RUN,
                }
            )
    return len(plan.sequences)
