"""Payloads of people-counting events (serial counters and cameras alike)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
OptionalCount = NonNegInt | None


class FootfallData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """People that crossed one door or counting line during one interval.

    Every field after ``source`` is absent unless the feature that fills it is configured, so a
    plain counter's payload is what it always was. ``in``/``out`` are customers: crossings that a
    staff or child rule classified are reported in ``staff_*``/``child_*`` instead.
    """

    line: Annotated[str, msgspec.Meta(description="door or counting-line name")]
    interval_start: Annotated[str, msgspec.Meta(description="RFC 3339 UTC start of the interval")]
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    in_: NonNegInt = msgspec.field(name="in")
    out: NonNegInt
    # no default: omit_defaults would otherwise drop it from serial counters' payloads
    source: Annotated[str, msgspec.Meta(description="serial_counter or camera")]
    groups_in: Annotated[OptionalCount, msgspec.Meta(
        description="buying units in: customers who crossed inwards together count as one group (a serial "
                    "counter: by time only, gaps of at most group_window_s)")] = None
    groups_out: Annotated[OptionalCount, msgspec.Meta(description="groups of customers who went out together")] = None
    passers_by: Annotated[OptionalCount, msgspec.Meta(
        description="people passing the shop front (crossings of the outside line, either way, or tracks "
                    "through the outside zone), staff and children left out; a serial counter: the customers, "
                    "both ways, its shop_front counter counted in the same interval, absent when that counter "
                    "did not report over all of it")] = None
    u_turns: Annotated[OptionalCount, msgspec.Meta(
        description="people who came up to the door from outside and turned back without crossing (cameras "
                    "only: a serial counter's beam cannot see one)")] = None
    capture_rate: Annotated[Annotated[float, msgspec.Meta(ge=0)] | None, msgspec.Meta(
        description="`in` (customers, after staff and child exclusion) / passers_by of this interval; "
                          "absent (null) when passers_by is 0 or absent, or no outside line or shop_front is "
                          "configured")] = None
    staff_in: Annotated[OptionalCount, msgspec.Meta(description="crossings inwards classified as staff (a serial "
                                                                "counter: by staff badge only)")] = None
    staff_out: Annotated[OptionalCount, msgspec.Meta(description="crossings outwards classified as staff")] = None
    child_in: Annotated[OptionalCount, msgspec.Meta(description="crossings inwards classified as children")] = None
    child_out: Annotated[OptionalCount, msgspec.Meta(description="crossings outwards classified as children")] = None


class OccupancyData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """How many people are in a zone (or, with scope "store", the store from in - out) right now.

    A store-scope count is one per ``occupancy_name``, summed over every door (serial counter or
    camera line) that names it: in by one door and out by another is right. Its periodic event is
    published once per interval end by one of those devices (the subject): the first in sorted id
    order of those that produced an interval within two of their intervals (a device that reads
    nothing, e.g. an unplugged counter, publishes none), or, before any has, the first of those just
    started; the others publish none. With a limit, an event is published at once when the count
    goes over the limit (``alert: "over"``) and when it falls back to the limit (``alert: "under"``),
    once, by the device whose crossing (or reset) caused it. The count survives a restart of the
    gateway within the same business day (no ``occupancy_reset_at`` in between, saved at most 12 h
    before), a crash included: it is saved with every periodic event and each door counter's people
    are counted once (those since the last save are still counted, from the counter's cumulative
    reading); a daily reset that falls after the save is made even before a door reads again.
    """

    zone: Annotated[str, msgspec.Meta(description="camera zone name, or the store occupancy's occupancy_name")]
    count: NonNegInt
    scope: Annotated[Literal["zone", "store"], msgspec.Meta(
        description="zone: people seen in a camera zone; store: in - out over every door counting this "
                    "occupancy_name since the last reset, never negative, kept across a restart or crash within "
                    "the same business day; its periodic event comes from one device only (the first id, in "
                    "sorted order, of those producing intervals; before any has, of those just started), an "
                    "alert from the device whose crossing caused it",
    )] = "zone"
    limit: Annotated[OptionalCount, msgspec.Meta(description="the configured occupancy_limit, if any")] = None
    alert: Annotated[Literal["over", "under"] | None, msgspec.Meta(
        description="over: count went above limit; under: it fell back to the limit or below")] = None


class DwellData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Dwell statistics of the people who left a zone during one interval."""

    zone: str
    interval_start: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    visits: NonNegInt
    mean_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    p50_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    p90_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
