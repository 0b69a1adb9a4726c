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
from datamove.redact import remember_secrets_in, remember_url
from datamove.spec.models import MigrationSpec
from datamove.spec.selection import matches

_VAR = re.compile(
    r"(?P<escaped>\$\$\{)|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
)


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
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string value of the YAML tree;
    ``$${`` stands for a literal ``${`` (a column named ``${x}`` is written ``from: $${x}``).

    A variable that is not set and has no default is an error naming the spec path: an empty
    string in a URL or a filter is never what the user meant. Mapping keys are names, never
    interpolated.
    """
    if isinstance(node, dict):
        return {k: interpolate(v, env, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, (*path, i)) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "${"
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
    if kind == "value_error":  # our validators' own words, without pydantic's prefix
        return SpecError(str(error["ctx"]["error"]), spec_path=spec_path(loc) or "(spec)")
    return SpecError(error["msg"], spec_path=spec_path(loc) or "(spec)")


def parse_spec(
    data: Any, env: Mapping[str, str] | None = None, origin: str = "spec"
) -> MigrationSpec:
    """Validate an already-parsed YAML document into a ``MigrationSpec``."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin} must be a YAML mapping with name, source, target and tables")
    data = interpolate(data, os.environ if env is None else env)
    for url in (data.get("source"), data.get("target")):
        if isinstance(url, str):
            remember_url(url)
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
    _check_scope(spec)
    return spec


def _check_scope(spec: MigrationSpec) -> None:
    """Something is in scope, and no ``exclude`` pattern takes out a table ``tables:`` maps."""
    if not spec.tables and not spec.include:
        raise SpecError(
            "no table is in scope",
            spec_path="tables",
            hint="map tables under tables:, or list source table patterns under include: "
            "(e.g. include: ['*'])",
        )
    for name, tspec in spec.tables.items():
        for i, pattern in enumerate(spec.exclude):
            if matches(pattern, tspec.source or name):
                raise SpecError(
                    f"'{pattern}' excludes table '{name}', which tables: maps",
                    spec_path=f"exclude[{i}]",
                    hint=f"remove the pattern, or tables.{name}",
                )


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
    """Read and validate a spec file: UTF-8 YAML where no mapping repeats a key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
    # Its URLs' passwords are secrets from here on, whether or not the rest of it parses.
    remember_secrets_in(raw.decode("utf-8", errors="replace"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            f"{path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, "
            f"column {column}",
            hint="save the spec as UTF-8",
        ) from None
    return parse_spec(read_yaml(text, str(path)), env, origin=str(path))


def read_yaml(text: str, origin: str) -> Any:
    """The YAML document in ``text``; a key given twice in one mapping is an error naming both
    lines (YAML itself keeps the last one silently); a key ``on``/``off``/``yes``/``no`` is
    that word, as in YAML 1.2 (``on: target``), not a boolean.

    Errors give the line, the column and the problem, never a snippet of the file: a snippet
    may hold a password, or the first characters of one where it is cut off."""
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters (NUL) at once
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _reject_duplicate_keys(node, (), set())
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise SpecError(f"{origin} is not valid YAML: {_yaml_problem(exc)}") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2020-13-45
        message = str(exc).split("\n")[0]  # a reader error's second line is a position
        raise SpecError(f"{origin} is not valid YAML: {message}") from None
    except RecursionError:
        raise SpecError(f"{origin} is not valid YAML: nested too deeply") from None


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    text = where + (exc.problem or "syntax error")
    if exc.context and exc.context_mark is not None:
        text += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return text


_BOOL, _STR = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:str"
_WORDS = frozenset({"on", "off", "yes", "no"})
"""Booleans in YAML 1.1 only: as a key (``on: target``) each is the word."""


def _reject_duplicate_keys(node: yaml.Node, path: tuple[int | str, ...], seen: set[int]) -> None:
    if id(node) in seen:  # an alias: already checked (and maybe recursive)
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _reject_duplicate_keys(item, (*path, i), seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            if key.tag == _BOOL and key.value.lower() in _WORDS:
                key.tag = _STR  # `on:` is a key (YAML 1.2), not True (YAML 1.1)
            same = first.get((key.tag, key.value))  # `1` and `'1'` are different keys
            if same is not None:
                raise SpecError(
                    f"key '{key.value}' is given twice, at line "
                    f"{same.start_mark.line + 1} and line {key.start_mark.line + 1} "
                    "(YAML would keep only the last)",
                    spec_path=spec_path(path) or "(spec)",
                    hint="remove one of them, or merge them into one",
                )
            first[(key.tag, key.value)] = key
            _reject_duplicate_keys(value, (*path, key.value), seen)
