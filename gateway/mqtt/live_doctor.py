"""The doctor's checks as the running daemon answers them (cmd/doctor): its live state is the truth.

`storegw doctor` probes from outside; inside the daemon two probes would do harm. A second MQTT
session tests a broker the daemon is already connected to, adds a connection per gateway across a
fleet, and with the gateway's own client id would take the broker session from the daemon (the
broker drops the older of two sessions with one id). So the broker check reports the daemon's own
link. Likewise a connected device is held by the daemon (a reader accepts one LLRP client; a second
connection would be refused or would take the reader away), so it is reported from its live state
and only a device that is not connected is probed by its kind's check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gateway.check import FAIL, OK, WARN, Check
from gateway.config import Config
from gateway.doctor import check_clock, check_device, check_disk
from gateway.events.types.health import DeviceHealth
from gateway.logsetup import redact_line


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the daemon's broker link says of itself, taken on the loop."""

    broker: str
    tls: bool
    connected: bool
    connected_for_s: float | None
    connects: int
    reconnects: int
    last_error: str | None


def link_view(link: Any) -> LinkView | None:
    """A LinkView of the daemon's MqttLink (None when no link runs); call it on the loop."""
    if link is None:
        return None
    stats, settings = link.stats, link.settings
    since = stats.connected_since
    connected = bool(link.connected)
    endpoint = getattr(link, "broker", None)  # with a failover list: the broker in use or tried next
    broker = str(endpoint) if endpoint is not None else f"{settings.host}:{settings.port}"
    tls = bool(getattr(endpoint, "tls", settings.tls))
    return LinkView(broker=broker, tls=tls, connected=connected,
                    connected_for_s=round(time.monotonic() - since, 1) if connected and since is not None else None,
                    connects=stats.connects, reconnects=stats.reconnects, last_error=stats.last_error)


def broker_check(link: LinkView | None) -> Check:
    """The broker, as the daemon's own link sees it (no second session: see the module's docstring)."""
    if link is None:
        return Check("broker link", FAIL, "no broker link is running (a reload is reconnecting, or the "
                     "[mqtt] settings could not be used: see cmd/logs)")
    tls = " (TLS verified)" if link.tls else ""
    if link.connected:
        uptime = f" for {link.connected_for_s:g} s" if link.connected_for_s is not None else ""
        return Check("broker link", OK, f"connected to {link.broker}{tls}{uptime}; {link.reconnects} reconnects "
                     "since start (the daemon's own session; no second one is opened)")
    why = f": {link.last_error}" if link.last_error else ""
    return Check("broker link", FAIL, f"not connected to {link.broker}{tls}{why}; reconnecting with backoff")


def live_device_check(device: Any, health: DeviceHealth | None) -> Check:
    """A device from its live state; a device the daemon does not hold (not connected) is also probed."""
    name = f"device {device.id} ({device.kind})"
    if not device.enabled or health is None:
        return check_device(device)  # disabled, or not started (yet): nothing holds it
    if health.state == "connected":
        age = "no reading yet" if health.last_reading_age_s is None else \
            f"last reading {health.last_reading_age_s:g} s ago"
        return Check(name, OK, f"connected; {health.readings} readings, {age}, {health.reconnects} reconnects, "
                     f"{health.restarts} restarts")
    probe = check_device(device)
    status = WARN if health.state in ("starting", "stopped") and probe.status != FAIL else FAIL
    error = f" ({health.last_error})" if health.last_error else ""
    return Check(name, status, f"{health.state}{error}; {health.restarts} restarts; check: {probe.detail}")


def daemon_checks(config: Config, config_path: str, link: LinkView | None,
                  devices: dict[str, DeviceHealth]) -> Iterator[Check]:
    """Every check of `storegw doctor`, in its order, answered from inside the daemon (blocking: a thread)."""
    yield Check("config", OK, f"{config_path} running ({len(config.devices)} devices)")
    yield check_disk(config)
    yield check_clock()
    yield broker_check(link)
    for device in config.devices:
        yield live_device_check(device, devices.get(device.id))


def check_answer(check: Check) -> dict[str, str]:
    """One check as it goes into the answer: name, status (ok, warn, FAIL), detail; redacted like the logs."""
    return {"name": check.name, "status": check.status, "detail": redact_line(check.detail)}
