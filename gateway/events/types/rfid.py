"""Payloads of RFID inventory events."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]


class ItemData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A tagged item arrived, moved between zones, departed (unseen) or left the store at an exit."""

    action: Literal["arrived", "moved", "departed", "left_store"]
    epc: Annotated[str, msgspec.Meta(pattern="^[0-9A-F]+$", description="the EPC in hex")]
    gtin: Annotated[str, msgspec.Meta(pattern="^[0-9]{14}$")] | None = None
    serial: str | None = None
    scheme: Annotated[str, msgspec.Meta(description="sgtin, sscc, grai, giai ... or raw")]
    zone: str
    from_zone: str | None = None
    reader: str
    antenna: NonNegInt
    rssi: float | None = None
    last_seen: Annotated[str, msgspec.Meta(description="RFC 3339 UTC time of the last read")]


class GtinCount(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How many items of one GTIN a zone holds, and the change since the previous cycle."""

    gtin: Annotated[str, msgspec.Meta(pattern="^[0-9]{14}$")]
    count: NonNegInt
    delta: int


class StockCountData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A zone's stock at the end of one count cycle."""

    zone: str
    cycle: Annotated[int, msgspec.Meta(ge=1, description="count cycle id, increasing per device")]
    interval_start: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    coverage: Annotated[float, msgspec.Meta(ge=0, le=1, description="share of the zone's known tags read in "
                                            "this cycle")]
    total: NonNegInt
    non_gs1: NonNegInt
    counts: list[GtinCount]
