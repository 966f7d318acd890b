"""Registry of event types: short name -> the msgspec Struct of its ``data``.

The JSON Schemas in ``docs/schemas/`` are generated from these classes
(``python -m gateway.events.schemas``) and tests validate what is published against them.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> "module:Struct". Each domain keeps its payload classes in its own module here.
EVENT_TYPES: dict[str, str] = {
    "health": "gateway.events.types.health:HealthData",
    "footfall": "gateway.events.types.footfall:FootfallData",
    "occupancy": "gateway.events.types.footfall:OccupancyData",
    "dwell": "gateway.events.types.footfall:DwellData",
    "synthetic": "gateway.events.types.synthetic:SyntheticData",
    "item": "gateway.events.types.rfid:ItemData",
    "stock-count": "gateway.events.types.rfid:StockCountData",
    "visit": "gateway.events.types.presence:VisitData",
    "visitors": "gateway.events.types.presence:VisitorsData",
    "beacon": "gateway.events.types.presence:BeaconData",
    "member-visit": "gateway.events.types.presence:MemberVisitData",
    "demographics": "gateway.events.types.demographics:DemographicsData",
    "sequence-gap": "gateway.events.types.sequence:SequenceGapData",
    "config": "gateway.events.types.remote_config:ConfigData",
    "audit": "gateway.events.types.audit:AuditData",
}


def data_class(name: str) -> Any:
    """Return the Struct class of the ``data`` of event type ``name``."""
    module_name, _, attr = EVENT_TYPES[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def type_uri(name: str) -> str:
    """CloudEvents ``type`` of a short event name."""
    return f"storegw.{name}.v1"
