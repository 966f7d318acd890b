"""Runs each device as its own task and restarts it with backoff when it fails."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from dataclasses import dataclass, field

from drivers.base import Backoff, DriverState, DriverStats
from gateway.config.redact import redact_url
from gateway.devices import AnyDeviceConfig, load_runner
from gateway.devices.context import DeviceContext
from gateway.devices.extras import extra_import_error, missing_extra_sentence
from gateway.events.sink import EventSink
from gateway.events.types.health import DeviceHealth

log = logging.getLogger("storegw.supervisor")


@dataclass
class DeviceSlot:
    """One configured device and its running task."""

    config: AnyDeviceConfig
    context: DeviceContext
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=60.0))

    @property
    def kind(self) -> str:
        """The device kind, e.g. serial_counter."""
        return self.config.kind

    def health(self) -> DeviceHealth:
        """This device's health: what its driver counts, the figures of its kind, the restarts."""
        stats = self.context.stats
        # the error may quote a URL with a password (a camera source): it leaves the box redacted
        last_error = None if stats.last_error is None else redact_url(stats.last_error)
        # the kind's figures are keyword arguments: one DeviceHealth does not declare is a TypeError here
        return DeviceHealth(kind=self.kind, state=str(stats.state), readings=stats.readings,
                            last_reading_age_s=stats.last_reading_age_s(), reconnects=stats.reconnects,
                            errors=dict(stats.errors), last_error=last_error, restarts=self.restarts,
                            **stats.extra)  # type: ignore[arg-type]


class Supervisor:
    """Owns the device tasks; one failing device never stops another."""

    def __init__(self, sink: EventSink, data_dir: str, config_path: str = "") -> None:
        self.sink = sink
        """Where every device's events go (the gateway, which commits them to the outbox)."""
        self.data_dir = data_dir
        self.config_path = config_path
        self.slots: dict[str, DeviceSlot] = {}

    def start(self, config: AnyDeviceConfig) -> None:
        """Start supervising one device config."""
        device_id = config.id
        context = DeviceContext(device_id=device_id, sink=self.sink, stats=DriverStats(),
                                log=logging.getLogger(f"storegw.device.{device_id}"), data_dir=self.data_dir,
                                config_path=self.config_path)
        slot = DeviceSlot(config=config, context=context)
        self.slots[device_id] = slot
        slot.task = asyncio.create_task(self._supervise(slot), name=f"device:{device_id}")

    async def _supervise(self, slot: DeviceSlot) -> None:
        """Run the device's integration forever, restarting it with backoff; a missing extra ends it for good."""
        importlib.invalidate_caches()  # so an extra installed since the daemon started is found
        lacking = missing_extra_sentence(slot.config.id, slot.kind)
        if lacking is not None:
            self._give_up(slot, lacking)
            return
        while True:
            stats = slot.context.stats
            started = time.monotonic()
            try:
                runner = load_runner(slot.kind)
                stats.state = DriverState.STARTING
                await runner(slot.config, slot.context)
                message = "stopped by itself"
            except asyncio.CancelledError:
                stats.state = DriverState.STOPPED
                raise
            except Exception as exc:
                missing = extra_import_error(slot.kind, exc) if isinstance(exc, ModuleNotFoundError) else None
                if missing is not None:  # restarting cannot install it
                    self._give_up(slot, missing.sentence(slot.config.id))
                    return
                message = f"{type(exc).__name__}: {exc}"
                log.error("device %s failed: %s", slot.config.id, message,
                          exc_info=not isinstance(exc, (OSError, ImportError)))
            stats.state = DriverState.FAILED
            stats.last_error = message
            slot.restarts += 1
            if time.monotonic() - started > 300:  # it had been running well: start the backoff afresh
                slot.backoff.reset()
            delay = slot.backoff.next_delay()
            log.warning("device %s restarts in %.1f s (%s)", slot.config.id, delay, message)
            await asyncio.sleep(delay)

    def _give_up(self, slot: DeviceSlot, reason: str) -> None:
        """Mark a device failed for good (not restarted), say why once; a reload tries it again."""
        slot.context.stats.state = DriverState.FAILED
        slot.context.stats.last_error = reason
        log.error("%s; not restarting it (reload or restart storegw once it is installed)", reason)

    async def stop(self, device_id: str) -> None:
        """Stop one device and wait for it to release its hardware."""
        slot = self.slots.pop(device_id, None)
        if slot is None or slot.task is None:
            return
        slot.task.cancel()
        # asyncio.wait neither raises the device's own cancel nor swallows one aimed at us
        done, _ = await asyncio.wait([slot.task], timeout=10)
        if not done:
            log.error("device %s did not stop within 10 s; going on without it", device_id)
        elif not slot.task.cancelled() and slot.task.exception() is not None:
            log.error("device %s raised while stopping: %r", device_id, slot.task.exception())

    async def stop_all(self) -> None:
        """Stop every device."""
        await asyncio.gather(*(self.stop(device_id) for device_id in list(self.slots)))

    async def apply(self, configs: list[AnyDeviceConfig]) -> list[str]:
        """Reconcile running devices with a new device list; returns what changed."""
        wanted = {c.id: c for c in configs if c.enabled}
        changes = []
        retried = set()
        for device_id in list(self.slots):
            slot = self.slots[device_id]
            if device_id not in wanted or wanted[device_id] != slot.config:
                await self.stop(device_id)
                changes.append(f"stopped {device_id}")
            elif slot.task is not None and slot.task.done():  # given up (e.g. its extra was missing): try again
                await self.stop(device_id)
                retried.add(device_id)
        for device_id, config in wanted.items():
            if device_id not in self.slots:
                self.start(config)
                changes.append(f"{'retried' if device_id in retried else 'started'} {device_id}")
        return changes

    def health(self) -> dict[str, DeviceHealth]:
        """Per-device health for the health event and `storegw status`."""
        return {device_id: slot.health() for device_id, slot in self.slots.items()}
