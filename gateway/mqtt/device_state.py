"""The retained `.../devices/{id}/state` of each device: what it is now, since when, and why.

State, not an event: it does not go through the outbox. The latest state of every device is kept
here and published retained (QoS 1) on each change and again after every birth, so the retained
view is right after a broker restart or a reconnect. The gateway's own `.../state` going offline
makes every device state unknown (documented in docs/asyncapi.yaml).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import DriverState
from gateway.logsetup import redact_line
from gateway.mqtt.topics import device_state_topic

WIRE_STATES = ("connected", "reconnecting", "failed", "stopped")
"""The states a device is published in (the driver's `starting` is published as reconnecting)."""
STARTING_REASON = "starting"
"""The reason of a device that has not answered yet since its (re)start: it is reconnecting."""
REASON_CHARS = 300
"""A longer reason (a driver's error message) is cut to this many characters."""


def wire_state(state: DriverState | str) -> str:
    """The published state of a driver state: `starting` is `reconnecting` (not connected yet, trying)."""
    value = str(state)
    return "reconnecting" if value == DriverState.STARTING else value if value in WIRE_STATES else "failed"


def iso_time(epoch: float) -> str:
    """UTC ISO 8601 to the second, the style of the gateway's own state message."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True, slots=True)
class DeviceState:
    """One device's published state."""

    state: str
    since: float
    """When the device entered ``state`` (epoch seconds)."""
    reason: str | None

    def payload(self, gwboot: int) -> bytes:
        """The retained JSON: state, since (ISO 8601 UTC), reason (null when connected), gwboot."""
        return json.dumps({"state": self.state, "since": iso_time(self.since), "reason": self.reason,
                           "gwboot": gwboot}).encode()


def clean_reason(reason: str | None) -> str | None:
    """A reason fit to leave the box: URL credentials and BLE addresses redacted, bounded in length."""
    if not reason:
        return None
    text = redact_line(reason)  # the same rules as the log lines
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


class DeviceStates:
    """The latest state of every device, published retained on each change and after every birth."""

    def __init__(self, publish: Callable[[str, bytes], object], topic: Callable[[], str],
                 boot: Callable[[], int]) -> None:
        """Publishes through ``publish(topic, payload)`` under the base ``topic()``; ``boot()`` is the gwboot."""
        self._publish = publish
        self._topic = topic
        self._boot = boot
        self.current: dict[str, DeviceState] = {}
        """Every device seen since the daemon started, removed ones as `stopped`."""

    def update(self, device_id: str, state: DriverState | str, since: float, reason: str | None) -> bool:
        """Record a driver state of ``device_id`` set at ``since``; publish it if the published state or
        reason changed. Returns True when it published."""
        wire = wire_state(state)
        reason = STARTING_REASON if str(state) == DriverState.STARTING else \
            None if wire == "connected" else clean_reason(reason)
        previous = self.current.get(device_id)
        if previous is not None and previous.state == wire and previous.reason == reason:
            return False
        if previous is not None and previous.state == wire:
            since = previous.since  # the same state with a new reason: since when it has been in it
        self.current[device_id] = DeviceState(wire, since, reason)
        self._send(device_id)
        return True

    def republish(self) -> None:
        """Publish every device's state again (after a birth: the broker may have lost them)."""
        for device_id in list(self.current):
            self._send(device_id)

    def _send(self, device_id: str) -> None:
        """Publish the state of one device."""
        self._publish(device_state_topic(self._topic(), device_id), self.current[device_id].payload(self._boot()))
