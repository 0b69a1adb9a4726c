"""The spec: the user's YAML, validated into typed models (stage 1 and 2 input)."""

from datamove.spec.loader import load_spec, parse_spec
from datamove.spec.models import ColumnSpec, KeySpec, MigrationSpec, TableSpec, TransformCall

__all__ = [
    "ColumnSpec",
    "KeySpec",
    "MigrationSpec",
    "TableSpec",
    "TransformCall",
    "load_spec",
    "parse_spec",
]
