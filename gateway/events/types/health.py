"""Payload of the periodic health event."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType


class DeviceHealth(msgspec.Struct, kw_only=True):
    """State of one device: what every driver reports, then the figures of its kind.

    Open to figures added later (no ``additionalProperties: false``): a new figure is a compatible change.

    A kind's figures are absent (UNSET) until its integration first reports them (most within a second
    of starting, ``watchdog_restarts`` at the first restart); other kinds' figures are never sent.
    """

    kind: str
    """The device kind, as in the config, e.g. "llrp"."""
    state: str
    """starting, connected, reconnecting, failed or stopped."""
    readings: int
    last_reading_age_s: float | None
    reconnects: int
    errors: dict[str, int]
    last_error: str | None
    # ---- llrp
    reads_per_s: float | UnsetType = UNSET
    tags: int | UnsetType = UNSET
    """Tags the inventory currently tracks."""
    cycle: int | UnsetType = UNSET
    """Stock-count cycles completed."""
    connected: bool | UnsetType = UNSET
    # ---- serial_counter
    resets: int | UnsetType = UNSET
    wraps: int | UnsetType = UNSET
    out_of_range: int | UnsetType = UNSET
    """Reports whose count is outside the counter's range (skipped)."""
    # ---- ble and camera
    tracks: int | UnsetType = UNSET
    # ---- ble
    evicted: int | UnsetType = UNSET
    """Tracks dropped because max_tracks was reached."""
    member_adverts_dropped: int | UnsetType = UNSET
    watchdog_restarts: int | UnsetType = UNSET
    """Scans restarted because no advert came for watchdog_s."""
    # ---- camera
    input_fps: float | UnsetType = UNSET
    processed_fps: float | UnsetType = UNSET
    detected_fps: float | UnsetType = UNSET
    skipped_frames: int | UnsetType = UNSET
    """Frames grabbed that inference never took (only the latest frame is kept)."""
    # last, after the kind's figures, as the payload always had it
    restarts: int
    """Times the supervisor restarted the device's integration."""


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
    broker: str | None = None
    """host:port of the broker in use, or of the one being tried (mqtt.urls is a failover list)."""


class HealthData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything store IT needs to see that the gateway is well, every 60 s."""

    version: str
    commit: str
    """The commit the running code was built from ("unknown" when it cannot tell)."""
    uptime_s: float
    devices: dict[str, DeviceHealth]
    outbox: OutboxHealth
    mqtt: MqttHealth
    disk_free_bytes: int
