"""JSON Schemas of every event type, generated from the payload classes.

`python -m gateway.events.schemas [DIR]` (re)writes docs/schemas/; a test fails when the
committed files differ from what the classes say.
"""

from __future__ import annotations

import inspect
import json
import pathlib
import sys
from typing import Any

import msgspec

from gateway.events.envelope import SEQUENCE_DIGITS
from gateway.events.types import EVENT_TYPES, data_class, type_uri

SCHEMA_BASE = "https://storegw.example/schemas/"


def clean_descriptions(node: Any) -> Any:
    """Dedent every docstring-made description, whichever way the msgspec release in use indents them."""
    if isinstance(node, dict):
        return {key: inspect.cleandoc(value) if key == "description" and isinstance(value, str)
                else clean_descriptions(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(clean_descriptions(item) for item in node)
    return node


def event_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one whole event (envelope and data) of type ``name``."""
    (data_schema,), defs = clean_descriptions(
        msgspec.json.schema_components([data_class(name)], ref_template="#/$defs/{name}"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{name}.json",
        "title": f"storegw {name} event (CloudEvents 1.0, structured JSON)",
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "sequence",
                     "gwboot", "data"],
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "UUIDv7; the idempotency key: de-duplicate on it",
                   "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"},
            "source": {"type": "string", "pattern": "^/stores/[^/]+/gateways/[^/]+$"},
            "type": {"const": type_uri(name)},
            "subject": {"type": "string", "description": "device id (or the gateway id for health)"},
            "time": {"type": "string", "format": "date-time", "description": "when it happened (UTC)"},
            "datacontenttype": {"const": "application/json"},
            "sequence": {"type": "string", "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$",
                         "description": "per-gateway, contiguous, never reused; a gap means a lost event: "
                         "ask cmd/replay"},
            "gwboot": {"type": "integer", "minimum": 1, "description": "the gateway's boot counter"},
            "data": data_schema,
        },
        "$defs": defs,
    }


def write_all(directory: pathlib.Path) -> list[pathlib.Path]:
    """Write one schema file per event type into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in EVENT_TYPES:
        path = directory / f"{name}.json"
        path.write_text(json.dumps(event_schema(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    for written_path in write_all(target):
        print(written_path)
