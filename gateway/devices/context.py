"""What the supervisor gives each device integration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.base import DriverStats
from gateway.events.sink import EventSink
from gateway.pipelines import Event


class CrossingSink(Protocol):
    """Told each crossing a device counted, for `storegw audit` (gateway/audit/feed.py); stays in the box."""

    def __call__(self, device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
                 people: int = 1) -> None:
        """``people`` crossed ``line`` in ``direction`` at ``t_from`` (or within [t_from, t_to]); 0 = none did."""


def no_crossing_sink(device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
                     people: int = 1) -> None:
    """The default: nobody follows crossings (a device run outside the daemon, a test)."""


@dataclass
class DeviceContext:
    """Runtime handle of one device: where its events go and where its health is kept."""

    device_id: str
    sink: EventSink
    """Commits this device's events to the outbox (never blocks)."""
    stats: DriverStats = field(default_factory=DriverStats)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("storegw.device"))
    clock: Callable[[], float] = time.time
    data_dir: str = "."
    config_path: str = ""
    """The config file, to resolve relative paths of device keys."""
    crossing_sink: CrossingSink = no_crossing_sink
    """Where per-crossing times go (the audit's feed); never published, only totals leave the box."""

    def emit(self, event: Event) -> None:
        """Hand one event of this device to the outbox."""
        self.sink.commit_event(self.device_id, event)

    def emit_all(self, events: list[Event]) -> None:
        """Hand several events of this device to the outbox, in order."""
        for event in events:
            self.sink.commit_event(self.device_id, event)

    def crossed(self, line: str, direction: str, t_from: float, t_to: float | None = None, people: int = 1) -> None:
        """``people`` counted on ``line`` in ``direction`` at ``t_from`` or within [t_from, t_to].

        ``people=0`` says nobody crossed up to ``t_to or t_from``: how far the device has counted.
        """
        self.crossing_sink(self.device_id, line, direction, t_from, t_to, people)
