"""Spec loading: interpolation, and errors that name the spec path and say what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamove.errors import SpecError
from datamove.spec import load_spec, parse_spec
from datamove.spec.models import MigrationSpec

BASE = {"name": "m", "source": "sqlite:///a.db", "target": "sqlite:///b.db"}


def test_interpolates_environment_variables() -> None:
    spec = parse_spec(
        {**BASE, "source": "${SRC}", "target": "${TGT:-sqlite:///x.db}", "tables": {"t": None}},
        env={"SRC": "sqlite:///from-env.db"},
    )
    assert spec.source == "sqlite:///from-env.db"
    assert spec.target == "sqlite:///x.db"


def test_missing_variable_names_its_spec_path() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "tables": {"t": {"where": "id > ${MIN_ID}"}}}, env={})
    assert err.value.spec_path == "tables.t.where"
    assert "MIN_ID" in str(err.value)


def test_unknown_field_suggests_the_closest() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "tables": {"orders": {"columns": {"amount": {"form": "amt"}}}}})
    assert err.value.spec_path == "tables.orders.columns.amount.form"
    assert "did you mean 'from'" in str(err.value)


def test_unknown_transform_suggests_the_closest() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "tables": {"o": {"columns": {"a": {"transform": [{"cats": "int"}]}}}}})
    assert err.value.spec_path == "tables.o.columns.a.transform[0]"
    assert "did you mean 'cast'" in str(err.value)


def test_bad_cast_argument_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "tables": {"o": {"columns": {"a": {"cast": "decimal"}}}}})
    assert err.value.spec_path == "tables.o.columns.a.cast"
    assert "precision" in str(err.value)


def test_wrong_type_and_missing_fields_are_reported_with_paths() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({"name": "m", "source": "sqlite://", "tables": {"t": {"batch_size": -1}}})
    text = str(err.value)
    assert "target" in text and "tables.t.batch_size" in text


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "absent.yaml")


def test_json_schema_describes_the_spec() -> None:
    schema = MigrationSpec.model_json_schema(by_alias=True)
    assert {"name", "source", "target", "tables"} <= set(schema["required"])
    assert "from" in json.dumps(schema["$defs"]["ColumnSpec"])


def test_bidirectional_sync_is_refused_with_the_reason() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "sync": {"direction": "bidirectional"}, "tables": {"t": None}})
    assert err.value.spec_path == "sync" and "no correct winner" in str(err.value)
    spec = parse_spec({**BASE, "tables": {"t": None}})
    assert spec.sync.direction.value == "one_way"
