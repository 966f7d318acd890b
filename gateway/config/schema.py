"""JSON Schema of the config file, generated from the typed model (one source of truth)."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.config.model import Config


def config_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) a config file, read as TOML, must satisfy."""
    schema = msgspec.json.schema(Config)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://storegw.example/schemas/config.json"
    schema["title"] = "storegw configuration"
    return schema
