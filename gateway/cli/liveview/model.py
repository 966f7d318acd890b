"""What the live view knows: the daemon's latest status and the events seen since it started.

Pure state, no I/O and no clock of its own: every input comes with ``now`` (seconds since the
epoch). Events of high-rate types (RFID ``item``, ``synthetic``) are not kept one by one: they are
counted per device and, for ``item``, per action and zone over a summary window, which then
becomes one line of the feed.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.cli.liveview.figures import RetailFigures

SUMMARISED_TYPES = frozenset({"item", "synthetic"})
"""Event types the feed shows as one line per device and window instead of one line per event."""
_TYPE_PATTERN = re.compile(r"^storegw\.(?P<name>.+)\.v\d+$")


@dataclass(frozen=True)
class SeenEvent:
    """One event as it came from the daemon's tail."""

    name: str
    """The event type without prefix and version, e.g. ``footfall``."""
    subject: str
    """The device that produced it (the gateway id for health)."""
    time: float
    """When it happened, seconds since the epoch."""
    seq: int | None
    data: dict[str, Any]


@dataclass
class WindowSummary:
    """Events of one summarised type from one device over one window, counted by (action, zone)."""

    name: str
    subject: str
    first: float
    """Event time of the first event in the window."""
    last: float
    """Event time of the latest event in the window."""
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(action, zone) -> events; ("", "") for types without an action."""

    @property
    def total(self) -> int:
        """Events in the window."""
        return sum(self.counts.values())


FeedEntry = SeenEvent | WindowSummary


@dataclass
class DeviceRow:
    """One device as the view shows it."""

    device_id: str
    kind: str = "?"
    state: str = "unknown"
    readings: int = 0
    reconnects: int = 0
    last_error: str | None = None
    events_by_type: dict[str, int] = field(default_factory=dict)
    """Event type -> events seen since the view started, in the order the types first appeared."""
    last_event: SeenEvent | None = None


def event_name(cloud_type: str) -> str:
    """``storegw.stock-count.v1`` -> ``stock-count`` (anything else is kept as it is)."""
    match = _TYPE_PATTERN.match(cloud_type)
    return match.group("name") if match else cloud_type


def event_time(stamp: Any, default: float) -> float:
    """An RFC 3339 time as seconds since the epoch, or ``default`` when it is missing or unreadable."""
    if not isinstance(stamp, str):
        return default
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return default


def sequence_number(value: Any) -> int | None:
    """The envelope's zero-padded decimal ``sequence`` as an int, or None when it is not one."""
    text = str(value) if isinstance(value, str | int) else ""
    return int(text) if text.isdigit() else None


def summary_key(name: str, data: dict[str, Any]) -> tuple[str, str]:
    """What a summarised event is counted under: (action, zone) for items, ("", "") otherwise."""
    if name == "item":
        return str(data.get("action", "?")), str(data.get("zone", "?"))
    return "", ""


class LiveModel:
    """Accumulates status snapshots and tailed events for the live view."""

    def __init__(self, feed_size: int = 12, summary_window_s: float = 1.0) -> None:
        self.feed_size = feed_size
        self.summary_window_s = summary_window_s
        self.status: dict[str, Any] | None = None
        self.status_at: float | None = None
        """``now`` of the latest status answer."""
        self.unreachable: str | None = None
        """Why the latest attempt to reach the daemon failed; None once it answers again."""
        self.devices: dict[str, DeviceRow] = {}
        self.feed: deque[FeedEntry] = deque(maxlen=feed_size)
        self.events_seen = 0
        self.skipped = 0
        """Events the daemon did not send us because we read too slowly."""
        self._open: dict[tuple[str, str], WindowSummary] = {}
        self._window_started: float | None = None
        self.figures = RetailFigures()
        """Footfall (staff, children, groups, passers-by, capture rate) and store occupancy since the start."""

    # ---- inputs ------------------------------------------------------------------------
    def apply_status(self, status: dict[str, Any], now: float) -> None:
        """Take one answer of the daemon's `status` command."""
        self.status = status
        self.status_at = now
        self.unreachable = None
        for device_id, device in (status.get("devices") or {}).items():
            row = self._row(device_id)
            row.kind = str(device.get("kind", row.kind))
            row.state = str(device.get("state", row.state))
            row.readings = int(device.get("readings", row.readings))
            row.reconnects = int(device.get("reconnects", row.reconnects))
            row.last_error = device.get("last_error")

    def apply_unreachable(self, reason: str, now: float) -> None:
        """Record that the daemon did not answer (the latest status is kept, marked stale)."""
        self.unreachable = reason

    def apply_event(self, envelope: dict[str, Any], now: float) -> None:
        """Take one event (a CloudEvents envelope as the tail streams it)."""
        name = event_name(str(envelope.get("type", "?")))
        subject = str(envelope.get("subject", "?"))
        data = envelope.get("data")
        event = SeenEvent(name=name, subject=subject, time=event_time(envelope.get("time"), now),
                          seq=sequence_number(envelope.get("sequence")), data=data if isinstance(data, dict) else {})
        self.events_seen += 1
        row = self._row(subject)
        row.events_by_type[name] = row.events_by_type.get(name, 0) + 1
        row.last_event = event
        self.figures.apply(name, subject, event.data)
        if name not in SUMMARISED_TYPES:
            self.feed.append(event)
            return
        if self._window_started is None:
            self._window_started = now
        summary = self._open.get((name, subject))
        if summary is None:
            summary = self._open[(name, subject)] = WindowSummary(name, subject, event.time, event.time)
        key = summary_key(name, event.data)
        summary.counts[key] = summary.counts.get(key, 0) + 1
        summary.last = max(summary.last, event.time)

    def apply_skipped(self, count: int) -> None:
        """The daemon dropped ``count`` events for this view because it read too slowly."""
        self.skipped += count

    def tick(self, now: float) -> None:
        """Close the summary window once it is ``summary_window_s`` old."""
        started = self._window_started
        if started is not None and (now - started >= self.summary_window_s or now < started):
            self.close_window()

    def close_window(self) -> None:
        """Put every open summary into the feed (oldest first), one line per type and device."""
        for summary in sorted(self._open.values(), key=lambda s: s.last):
            self.feed.append(summary)
        self._open.clear()
        self._window_started = None

    # ---- views -------------------------------------------------------------------------
    def device_rows(self) -> list[DeviceRow]:
        """The devices of the latest status in its order; before any status, every subject seen."""
        if self.status is None:
            return list(self.devices.values())
        return [self.devices[device_id] for device_id in (self.status.get("devices") or {})]

    def stale_for(self, now: float) -> float | None:
        """Seconds since the latest status answer, or None before the first one."""
        return None if self.status_at is None else now - self.status_at

    def _row(self, device_id: str) -> DeviceRow:
        """The row of a device, created on first sight."""
        row = self.devices.get(device_id)
        if row is None:
            row = self.devices[device_id] = DeviceRow(device_id)
        return row
