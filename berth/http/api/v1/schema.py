"""A small JSON Schema (draft 4 subset) validator with jsonschema-style messages.

Covers what /api/v1 bodies use: ``type`` (one or a list), ``properties``, ``required``,
``enum``, ``minimum``, ``minLength``, ``maxLength``, ``additionalProperties: false``,
``items``. Extra properties are allowed unless a schema says otherwise, as in Quay.
"""

from __future__ import annotations

from typing import Any

import orjson

_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _repr(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return repr(value)


def validation_error(value: Any, schema: dict[str, Any]) -> str | None:
    """The first problem with ``value`` against ``schema``, or None."""
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_TYPES[t](value) for t in names):
            if len(names) == 1:
                return f"{_repr(value)} is not of type {names[0]!r}"
            return f"{_repr(value)} is not of type {', '.join(repr(t) for t in names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{_repr(value)} is not one of {_repr(schema['enum'])}"
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        return f"{_repr(value)} is less than the minimum of {schema['minimum']}"
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        return f"{_repr(value)} is too short"
    if "maxLength" in schema and isinstance(value, str) and len(value) > schema["maxLength"]:
        return f"{_repr(value)} is too long"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return f"{name!r} is a required property"
        props = schema.get("properties", {})
        for name, sub in props.items():
            if name in value:
                problem = validation_error(value[name], sub)
                if problem:
                    return problem
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                listed = ", ".join(repr(e) for e in extra)
                verb = "was" if len(extra) == 1 else "were"
                return f"Additional properties are not allowed ({listed} {verb} unexpected)"
    if isinstance(value, list) and "items" in schema:
        for item in value:
            problem = validation_error(item, schema["items"])
            if problem:
                return problem
    return None
