"""What the supervisor gives each device integration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.base import DriverStats
from gateway.events.sink import EventSink
from gateway.pipelines import Event


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

    def emit(self, event: Event) -> None:
        """Hand one event of this device to the outbox."""
        self.sink.commit_event(self.device_id, event)

    def emit_all(self, events: list[Event]) -> None:
        """Hand several events of this device to the outbox, in order."""
        for event in events:
            self.sink.commit_event(self.device_id, event)
