"""Payloads of BLE presence events. No address or device name ever appears in them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Pseudonym = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$", description="HMAC-SHA256 of the address "
                                        "under a salt that lives only in the gateway's RAM and changes daily")]


class VisitData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A visitor's device entered (stayed at least the minimum dwell) or left."""

    action: Literal["enter", "exit"]
    visitor: Pseudonym
    entered: Annotated[str, msgspec.Meta(description="RFC 3339 UTC time the device came within enter_rssi")]
    dwell_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    rssi: int


class VisitorsData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Unique visitors and the dwell histogram of one interval."""

    interval_start: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    unique_visitors: NonNegInt
    completed_visits: NonNegInt
    dwell_histogram: Annotated[dict[str, NonNegInt], msgspec.Meta(
        description="completed visits by dwell bucket: 0-1m, 1-5m, 5-15m, 15-30m, 30-60m, 60m+")]


class BeaconData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A recognised beacon (never a visitor) appeared or was lost."""

    action: Literal["seen", "lost"]
    kind: Literal["ibeacon", "altbeacon", "eddystone-uid", "eddystone-url"]
    uuid: str | None = None
    major: int | None = None
    minor: int | None = None
    namespace: str | None = None
    instance: str | None = None
    beacon_id: str | None = None
    url: str | None = None
    rssi: int


class MemberVisitData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A member-app beacon entered or left; only an opaque token identifies it."""

    action: Literal["enter", "exit"]
    token: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{32}$", description="HMAC-SHA256(member key, "
                                       "uuid:major:minor), truncated; only the backend holding the key can join it")]
    entered: str
    dwell_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
