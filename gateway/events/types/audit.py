"""Payload of the `audit` event: a technician's count at a door compared with what the device counted."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Share = Annotated[float, msgspec.Meta(le=1)]


class AuditDirection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One direction (or both together) of an audit; people-counter vendors report these figures."""

    manual: Annotated[int, msgspec.Meta(ge=0, description="people the technician counted in the window")]
    device: Annotated[int, msgspec.Meta(ge=0, description="people the device counted: matched + extra")]
    matched: Annotated[int, msgspec.Meta(ge=0, description="manual counts with a device crossing of the same "
                                         "direction within the tolerance (each used once)")]
    missed: Annotated[int, msgspec.Meta(ge=0, description="manual counts the device did not count")]
    extra: Annotated[int, msgspec.Meta(ge=0, description="device crossings no manual count matches")]
    net_accuracy: Annotated[Share | None, msgspec.Meta(
        description="1 - |device - manual| / manual (over- and under-counts cancel); null when manual is 0")] = None
    absolute_accuracy: Annotated[Share | None, msgspec.Meta(
        description="1 - (missed + extra) / manual (every error counts); null when manual is 0")] = None


class AuditBucket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Counts of one period of the window (a minute unless bucket_s says otherwise)."""

    offset_s: Annotated[float, msgspec.Meta(ge=0, description="start of the period, seconds after window_start")]
    manual_in: NonNegInt
    manual_out: NonNegInt
    device_in: NonNegInt
    device_out: NonNegInt


class AuditData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A count audit of one device: the technician's tally against the device's crossings (aggregates only)."""

    device: Annotated[str, msgspec.Meta(description="the audited device id")]
    line: Annotated[str | None, msgspec.Meta(description="the audited door or line; null = all of the device's")] = None
    window_start: Annotated[str, msgspec.Meta(description="RFC 3339 UTC start of the audit")]
    window_s: Annotated[float, msgspec.Meta(gt=0, description="length of the audit window")]
    ended_early: bool = False
    tally: Annotated[Literal["keys", "file"], msgspec.Meta(
        description="keys: pressed live at the door; file: a scripted or paper tally replayed")] = "keys"
    tolerance_s: Annotated[float, msgspec.Meta(ge=0, description="how far in time a match may be")]
    device_resolution_s: Annotated[float, msgspec.Meta(
        ge=0, description="widest time span the device reported crossings in (its footfall interval, 0 = each "
        "crossing on its own); a manual count matches a crossing anywhere in that span +- tolerance_s")] = 0.0
    in_: AuditDirection = msgspec.field(name="in")
    out: AuditDirection
    total: AuditDirection
    bucket_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    buckets: list[AuditBucket] = []
    bucket_mae: Annotated[Annotated[float, msgspec.Meta(ge=0)] | None, msgspec.Meta(
        description="mean over the buckets of |device in+out - manual in+out|")] = None
