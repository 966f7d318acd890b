"""Payload of the periodic health event."""

from __future__ import annotations

from typing import Any, Literal

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
    queued_in_ram: int = 0
    """Events waiting in RAM for their transaction (at most outbox.ram_queue_max; beyond that the drop
    policy decides what goes, counted as ram:{type})."""
    writer: Literal["ok", "retrying", "stalled", "stopped"] = "ok"
    """ok; retrying: the last transaction failed (see last_error) and is retried with backoff; stalled:
    nothing committed for outbox.stall_s while events wait (the systemd watchdog is withheld); stopped."""
    last_error: str | None = None
    """The storage error of the last failed attempt, until a transaction succeeds."""
    recoveries: int = 0
    """Corrupt databases set aside so far."""


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
