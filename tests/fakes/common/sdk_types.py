"""Check a JSON value against the installed SDK's pydantic types the way OpenAI's APIs check requests: a recursive
walk over the models that reports what their permissive parsing lets through but the real API rejects (unknown
keys as `Unknown parameter: 'session.foo'.`, wrong JSON types, strictly), in the real API's wording and
`code`/`param`. Union members are picked by their `type` discriminator (then `role`, for conversation messages),
like the API does. Each protocol's validation (realtime/validation.py, live/validation.py) builds on it.
"""

from __future__ import annotations

import json
import types
import typing
from collections import abc
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin

import pydantic

__all__ = ["Issue", "check_value", "supported_values_text"]


@dataclass(frozen=True)
class Issue:
    """One problem with an event, phrased like the real API's `error` object."""

    code: str
    """`unknown_parameter`, `missing_required_parameter`, `invalid_value`, `invalid_type` or `invalid_json`."""
    param: str | None
    message: str


_NONE = type(None)


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` (the SDK's `PropertyInfo` discriminators are not pydantic ones)."""
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _members(annotation: Any) -> list[Any]:
    """Flatten nested unions (and `Annotated` wrappers) into their members."""
    annotation = _unwrap(annotation)
    if _is_union(annotation):
        out: list[Any] = []
        for arg in get_args(annotation):
            out.extend(_members(arg))
        return out
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _literal_values(annotation: Any) -> list[Any] | None:
    """The allowed values if `annotation` is a Literal (or Optional Literal), else None."""
    values: list[Any] = []
    for member in _members(annotation):
        if member is _NONE:
            continue
        if get_origin(member) is Literal:
            values.extend(get_args(member))
        else:
            return None
    return values or None


def _event_types(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    out: dict[str, type[pydantic.BaseModel]] = {}
    for member in _members(union):
        for value in _literal_values(member.model_fields["type"].annotation) or []:
            out[value] = member
    return out


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def supported_values_text(values: list[Any]) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`: the API's list style."""
    quoted = [_quote(v) for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _invalid_value(path: str, value: Any, allowed: list[Any]) -> Issue:
    shown = value if isinstance(value, str) else json.dumps(value)
    return Issue(
        "invalid_value",
        path,
        f"Invalid value: '{shown}'. Supported values are: {supported_values_text(allowed)}.",
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expected_kind(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    if annotation is str:
        return "a string"
    if annotation is bool:
        return "a boolean"
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    origin = get_origin(annotation)
    if origin in (list, list, tuple) or annotation in (list, tuple):
        return "an array"
    if origin is dict or annotation is dict or _is_model(annotation):
        return "an object"
    if origin is Literal:
        return _expected_kind(type(get_args(annotation)[0]))
    if _is_union(annotation):
        kinds = [_expected_kind(m) for m in _members(annotation) if m is not _NONE]
        return kinds[0] if kinds else "a value"
    return "a value"


def _invalid_type(path: str, value: Any, annotation: Any) -> Issue:
    return Issue(
        "invalid_type",
        path,
        f"Invalid type for '{path}': expected {_expected_kind(annotation)}, but got {_json_kind(value)} instead.",
    )


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@lru_cache(maxsize=512)
def _leaf_adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def _field_key(name: str, field: Any) -> str:
    return field.alias or name


def check_value(value: Any, annotation: Any, path: str) -> list[Issue]:
    """Every problem of `value` against `annotation` (SDK types), unknown keys included, in document order."""
    annotation = _unwrap(annotation)
    if annotation is Any or annotation is object:
        return []
    if _is_union(annotation):
        return _check_union(value, _members(annotation), path)
    if _is_model(annotation):
        return _check_model_union(value, [annotation], path)
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = list(get_args(annotation))
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return []
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return [_invalid_value(path, value, allowed)]
        return [_invalid_type(path, value, annotation)]
    if origin in (list, tuple, abc.Iterable, abc.Sequence) or annotation in (list, tuple):
        if not isinstance(value, list):
            return [_invalid_type(path, value, list)]
        args = get_args(annotation)
        if not args:
            return []
        issues: list[Issue] = []
        for i, element in enumerate(value):
            issues.extend(check_value(element, args[0], _join(path, i)))
        return issues
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            return [_invalid_type(path, value, dict)]
        args = get_args(annotation)
        issues = []
        if len(args) == 2:
            for key, element in value.items():
                issues.extend(check_value(element, args[1], _join(path, str(key))))
        return issues
    try:
        _leaf_adapter(annotation).validate_python(value, strict=True)
    except pydantic.ValidationError:
        return [_invalid_type(path, value, annotation)]
    except Exception:  # an annotation pydantic cannot adapt on its own: accept, pydantic's gate decides
        return []
    return []


def _check_union(value: Any, members: list[Any], path: str) -> list[Issue]:
    if value is None:
        if _NONE in members:
            return []
        return [_invalid_type(path, value, Union[tuple(members)])]
    models = [m for m in members if _is_model(m)]
    others = [m for m in members if not _is_model(m) and m is not _NONE]
    if isinstance(value, dict) and models:
        return _check_model_union(value, models, path)
    if not others:
        return [_invalid_type(path, value, models[0] if models else object)]
    results = [check_value(value, m, path) for m in others]
    for issues in results:
        if not issues:
            return []
    literals: list[Any] = []
    for m in others:
        literals.extend(_literal_values(m) or [])
    if literals and isinstance(value, str):
        return [_invalid_value(path, value, literals)]
    for issues in results:
        if issues and issues[0].code == "invalid_value":
            return issues
    return results[0]


def _required(model: type[pydantic.BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return bool(field and field.is_required())


def _check_model_union(value: Any, models: list[type[pydantic.BaseModel]], path: str) -> list[Issue]:
    if not isinstance(value, dict):
        return [_invalid_type(path, value, models[0])]
    candidates = list(models)
    for disc in ("type", "role"):
        if len(candidates) == 1 and disc == "role":
            break
        literal_sets = {
            m: _literal_values(m.model_fields[disc].annotation) for m in candidates if disc in m.model_fields
        }
        if len(literal_sets) != len(candidates) or any(v is None for v in literal_sets.values()):
            continue
        if disc not in value:
            optional = [m for m in candidates if not _required(m, disc)]
            if not optional:
                return [
                    Issue(
                        "missing_required_parameter",
                        _join(path, disc),
                        f"Missing required parameter: '{_join(path, disc)}'.",
                    )
                ]
            candidates = optional
            continue
        given = value[disc]
        matching = [m for m in candidates if given in (literal_sets[m] or [])]
        if not matching:
            allowed: list[Any] = []
            for m in candidates:
                allowed.extend(v for v in literal_sets[m] or [] if v not in allowed)
            if isinstance(given, str):
                return [_invalid_value(_join(path, disc), given, allowed)]
            return [_invalid_type(_join(path, disc), given, str)]
        candidates = matching
    results = [_check_model(value, m, path) for m in candidates]
    return min(results, key=len)


def _check_model(value: dict[str, Any], model: type[pydantic.BaseModel], path: str) -> list[Issue]:
    fields = {_field_key(name, f): f for name, f in model.model_fields.items()}
    issues: list[Issue] = []
    for key, element in value.items():
        field = fields.get(key)
        if field is None:
            issues.append(Issue("unknown_parameter", _join(path, key), f"Unknown parameter: '{_join(path, key)}'."))
            continue
        issues.extend(check_value(element, field.annotation, _join(path, key)))
    for key, field in fields.items():
        if key not in value and field.is_required():
            issues.append(
                Issue(
                    "missing_required_parameter", _join(path, key), f"Missing required parameter: '{_join(path, key)}'."
                )
            )
    return issues
