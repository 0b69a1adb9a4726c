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
    assert {"name", "source", "target"} <= set(schema["required"])
    assert {"tables", "include", "exclude"} <= set(schema["properties"])  # tables or include
    assert "from" in json.dumps(schema["$defs"]["ColumnSpec"])


def test_bidirectional_sync_is_refused_with_the_reason() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "sync": {"direction": "bidirectional"}, "tables": {"t": None}})
    assert err.value.spec_path == "sync" and "no correct winner" in str(err.value)
    spec = parse_spec({**BASE, "tables": {"t": None}})
    assert spec.sync.direction.value == "one_way"


def test_on_as_a_key_is_the_word_not_a_yaml_11_boolean(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "name: m\nsource: sqlite:///a.db\ntarget: sqlite:///b.db\ntables:\n  t: {}\n"
        "cutover:\n  steps: [{name: warm, sql: SELECT 1, on: target}]\n"
        "  rollback:\n    reverse: true\n"
        "    triggers: [{query: SELECT 1, on: source, above: 0}]\n"
    )
    loaded = load_spec(spec).cutover
    assert loaded.steps[0].on == "target" and loaded.rollback.triggers[0].on == "source"


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "name: m\nsource: sqlite:///a.db\ntarget: sqlite:///b.db\ntables:\n"
        "  orders: {}\n  items: {}\n  orders: {where: 'id > 0'}\n"
    )
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert err.value.spec_path == "tables"
    assert "'orders' is given twice, at line 5 and line 7" in str(err.value)


def test_the_same_text_as_number_and_string_is_two_keys() -> None:
    from datamove.spec.loader import read_yaml

    assert read_yaml("map: {1: a, '1': b}", "spec") == {"map": {1: "a", "1": "b"}}


def test_a_spec_that_is_not_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_bytes(b"name: m\nsource: caf\xe9\n")
    with pytest.raises(SpecError, match=r"not UTF-8 text: byte 0xe9 at line 2, column 12"):
        load_spec(spec)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://u@127.0.0.1:abc/db", "port cannot be read"),
        ("postgresql://u@[::1/db", "IPv6 host is written in brackets"),
        ("postgresql://u@h:70000/db", "port 70000 is out of range"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_broken_url_is_a_spec_error_at_its_path(url: str, problem: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "target": url, "tables": {"t": None}})
    assert err.value.spec_path == "target" and problem in str(err.value)


def test_double_dollar_is_a_literal_dollar_brace() -> None:
    spec = parse_spec(
        {**BASE, "tables": {"t": {"columns": {"${x}": {"from": "$${x}"}, "y": "a$$${B}"}}}},
        env={"B": "never"},
    )
    columns = spec.tables["t"].columns or {}
    assert columns["${x}"].from_ == "${x}" and columns["y"].from_ == "a$${B}"


def test_a_yaml_error_shows_no_snippet_of_the_password(tmp_path: Path) -> None:
    """Issue 14: the snippet of a YAML error printed the password (without its scheme://, so
    the URL pattern missed it; long lines were cut inside it)."""
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "name: m\nsource: sqlite:///a.db\n"
        "target: 'postgresql://app:Sup3r-S3cret-pw@" + "h" * 80 + "/db\ntables: {t: }\n"
    )
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert "not valid YAML: line 5" in str(err.value)
    assert "Sup3r" not in str(err.value) and "hhh" not in str(err.value)
