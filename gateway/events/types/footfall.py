"""Payloads of people-counting events (serial counters and cameras alike)."""

from __future__ import annotations

from typing import Annotated

import msgspec

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]


class FootfallData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """People that crossed one door or counting line during one interval."""

    line: Annotated[str, msgspec.Meta(description="door or counting-line name")]
    interval_start: Annotated[str, msgspec.Meta(description="RFC 3339 UTC start of the interval")]
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    in_: NonNegInt = msgspec.field(name="in")
    out: NonNegInt
    source: Annotated[str, msgspec.Meta(description="serial_counter or camera")] = "serial_counter"


class OccupancyData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How many people are in a zone right now."""

    zone: str
    count: NonNegInt


class DwellData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Dwell statistics of the people who left a zone during one interval."""

    zone: str
    interval_start: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    visits: NonNegInt
    mean_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    p50_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    p90_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
