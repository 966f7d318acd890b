"""Payload of the periodic health event."""

from __future__ import annotations

from typing import Any

import msgspec


class DeviceHealth(msgspec.Struct, kw_only=True):
    """State of one device as its driver reports it; kinds add their own fields."""

    kind: str
    state: str
    readings: int
    last_reading_age_s: float | None
    reconnects: int
    restarts: int
    errors: dict[str, int]
    last_error: str | None = None


class OutboxHealth(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Depth and losses of the durable outbox."""

    last_seq: int
    pending: int
    oldest_pending_age_s: float | None
    bytes: int
    max_bytes: int
    dropped: dict[str, int]
    write_errors: int


class MqttHealth(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The broker link."""

    connected: bool
    last_puback_age_s: float | None
    reconnects: int
    inflight: int
    last_error: str | None = None


class HealthData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything store IT needs to see that the gateway is well, every 60 s."""

    version: str
    commit: str
    """The commit the running code was built from ("unknown" when it cannot tell)."""
    uptime_s: float
    devices: dict[str, dict[str, Any]]
    outbox: OutboxHealth
    mqtt: MqttHealth
    disk_free_bytes: int
