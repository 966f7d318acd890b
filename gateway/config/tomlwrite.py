"""Write a config dict as TOML (tomllib reads only); enough for generated configs like the demo's."""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    """One TOML value; dicts become inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(key: str) -> str:
    """A bare key when possible, else quoted."""
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dumps(config: dict[str, Any]) -> str:
    """Tables for top-level dicts, arrays of tables for top-level lists of dicts."""
    out: list[str] = []
    for name, table in config.items():
        if isinstance(table, dict):
            out.append(f"[{_key(name)}]")
            out += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
            out.append("")
        elif isinstance(table, list) and all(isinstance(t, dict) for t in table):
            for item in table:
                out.append(f"[[{_key(name)}]]")
                out += [f"{_key(k)} = {_value(v)}" for k, v in item.items()]
                out.append("")
        else:
            out.insert(0, f"{_key(name)} = {_value(table)}")
    return "\n".join(out)
