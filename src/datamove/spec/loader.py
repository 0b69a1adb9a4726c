"""YAML → ``${VAR}`` interpolation → validated ``MigrationSpec``; errors name spec paths."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from datamove.errors import SpecError
from datamove.spec.models import MigrationSpec

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def spec_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("tables", "orders", "transform", 0)`` → ``tables.orders.transform[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def interpolate(node: Any, env: Mapping[str, str], path: tuple[int | str, ...] = ()) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of the YAML tree.

    A variable that is not set and has no default is an error naming the spec path: an empty
    string in a URL or a filter is never what the user meant.
    """
    if isinstance(node, dict):
        return {k: interpolate(v, env, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, (*path, i)) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise SpecError(
            f"environment variable {name} is not set",
            spec_path=spec_path(path),
            hint=f"export {name}=... before running, or write ${{{name}:-default}}",
        )

    return _VAR.sub(substitute, node)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _without_none(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    is_union = type(annotation).__name__ in {"UnionType", "_UnionGenericAlias"}
    return args[0] if is_union and len(args) == 1 else annotation


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for 'did you mean')."""
    model: Any = MigrationSpec
    for part in loc[:-1]:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            if field is None:
                return None
            model = _without_none(field.annotation)
        else:  # a dict key or list index: step into the container's element type
            args = getattr(model, "__args__", ())
            model = _without_none(args[-1]) if args else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _explain(error: Any) -> SpecError:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _model_at(loc)
        names = _field_names(owner) if owner else []
        message = f"unknown field '{loc[-1]}'{_suggest(str(loc[-1]), names)}"
        hint = f"allowed here: {', '.join(sorted(names))}" if names else None
        return SpecError(message, spec_path=spec_path(loc), hint=hint)
    if kind == "missing":
        return SpecError("required field is missing", spec_path=spec_path(loc))
    return SpecError(error["msg"], spec_path=spec_path(loc) or "(spec)")


def parse_spec(
    data: Any, env: Mapping[str, str] | None = None, origin: str = "spec"
) -> MigrationSpec:
    """Validate an already-parsed YAML document into a ``MigrationSpec``."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin} must be a YAML mapping with name, source, target and tables")
    data = interpolate(data, os.environ if env is None else env)
    try:
        spec = MigrationSpec.model_validate(data)
    except ValidationError as exc:
        errors = [_explain(e) for e in exc.errors()]
        first = errors[0]
        if len(errors) > 1:
            more = "\n".join(f"  {e}" for e in errors[1:])
            first.message += f"\n  and {len(errors) - 1} more:\n{more}"
        raise first from None
    _check_transforms(spec)
    return spec


def _check_transforms(spec: MigrationSpec) -> None:
    """Unknown transform names and bad arguments are spec errors, found before any connection."""
    from datamove.transforms import build

    for table, tspec in spec.tables.items():
        for column, cspec in (tspec.columns or {}).items():
            for i, call in enumerate(cspec.chain()):
                path = f"tables.{table}.columns.{column}.transform[{i}]"
                if i >= len(cspec.transform):
                    path = f"tables.{table}.columns.{column}.{call.name}"
                build(call.name, call.args, path)


def load_spec(path: str | Path, env: Mapping[str, str] | None = None) -> MigrationSpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from None
    return parse_spec(data, env, origin=str(path))
