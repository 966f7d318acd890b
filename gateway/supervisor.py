"""Runs each device as its own task and restarts it with backoff when it fails."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.base import Backoff, DriverState, DriverStats
from gateway.config.redact import redact_url
from gateway.devices import AnyDeviceConfig, load_runner
from gateway.devices.context import CrossingSink, DeviceContext, no_crossing_sink
from gateway.devices.extras import extra_import_error, missing_extra_sentence
from gateway.events.sink import EventSink
from gateway.events.types.health import DeviceHealth

log = logging.getLogger("storegw.supervisor")
STOP_WAIT_S = 10.0
"""How long a device may take to release its hardware when it is stopped or restarted."""
DeviceStateListener = Callable[[str, DriverState, float, "str | None"], None]
"""Told each device state change: device id, new state, when (epoch s), reason (its error, or why it stopped)."""


@dataclass
class DeviceSlot:
    """One configured device and its running task."""

    config: AnyDeviceConfig
    context: DeviceContext
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=60.0))
    stop_reason: str | None = None
    """Why the device is being stopped (the reason its `stopped` state is published with)."""
    restarting: bool = False

    @property
    def kind(self) -> str:
        """The device kind, e.g. serial_counter."""
        return self.config.kind

    def health(self) -> DeviceHealth:
        """This device's health: what its driver counts, the figures of its kind, the restarts."""
        stats = self.context.stats
        # the error may quote a URL with a password (a camera source): it leaves the box redacted
        last_error = None if stats.last_error is None else redact_url(stats.last_error)
        return DeviceHealth(kind=self.kind, state=str(stats.state), readings=stats.readings,
                            last_reading_age_s=stats.last_reading_age_s(), reconnects=stats.reconnects,
                            errors=dict(stats.errors), last_error=last_error, restarts=self.restarts,
                            **declared_figures(self.kind, stats.extra))  # type: ignore[arg-type]


DEVICE_FIGURES = frozenset(DeviceHealth.__struct_fields__) - {
    "kind", "state", "readings", "last_reading_age_s", "reconnects", "errors", "last_error", "restarts"}
"""The kinds' own figures the health event declares (tests/unit/devices checks the code sets no other)."""
_undeclared_said: set[str] = set()


def declared_figures(kind: str, extra: dict[str, int | float | bool]) -> dict[str, int | float | bool]:
    """The figures of ``extra`` that DeviceHealth declares; any other is left out and logged once, so one
    undeclared figure never costs the health event of every device."""
    figures = {name: value for name, value in extra.items() if name in DEVICE_FIGURES}
    for name in extra.keys() - figures.keys() - _undeclared_said:
        _undeclared_said.add(name)
        log.error("device figure %r of kind %s is not declared in DeviceHealth (gateway/events/types/health.py); "
                  "left out of health and status", name, kind)
    return figures


class Supervisor:
    """Owns the device tasks; one failing device never stops another."""

    def __init__(self, sink: EventSink, data_dir: str, config_path: str = "") -> None:
        self.sink = sink
        """Where every device's events go (the gateway, which commits them to the outbox)."""
        self.data_dir = data_dir
        self.config_path = config_path
        self.slots: dict[str, DeviceSlot] = {}
        self.on_state: DeviceStateListener | None = None
        """Told every device state change, on the loop (the daemon publishes devices/{id}/state)."""
        self.crossing_sink: CrossingSink = no_crossing_sink
        """Given to every device: its crossings one by one, for `storegw audit` (the daemon's CrossingFeed)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, config: AnyDeviceConfig) -> None:
        """Start supervising one device config."""
        device_id = config.id
        context = DeviceContext(device_id=device_id, sink=self.sink, stats=DriverStats(),
                                log=logging.getLogger(f"storegw.device.{device_id}"), data_dir=self.data_dir,
                                config_path=self.config_path, crossing_sink=self.crossing_sink)
        slot = DeviceSlot(config=config, context=context)
        self.slots[device_id] = slot
        self._loop = asyncio.get_running_loop()
        context.stats.on_state = lambda state: self._state_changed(slot, state)
        self._state_changed(slot, context.stats.state)  # the first state is set before anyone listens
        slot.task = asyncio.create_task(self._supervise(slot), name=f"device:{device_id}")

    def _state_changed(self, slot: DeviceSlot, state: DriverState) -> None:
        """A device's state changed (any thread): report it on the loop, after the code that set it has
        also set its error message (drivers set the state first)."""
        since = time.time()
        try:
            asyncio.get_running_loop().call_soon(self._report_state, slot, state, since)
        except RuntimeError:  # a driver's own thread (the camera's grabber posts to the loop, others may not)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._report_state, slot, state, since)

    def _report_state(self, slot: DeviceSlot, state: DriverState, since: float) -> None:
        """Tell ``on_state`` of one change, unless a newer slot has taken the device id since."""
        device_id = slot.config.id
        current = self.slots.get(device_id)
        if self.on_state is None or (current is not None and current is not slot):
            return
        reason = (slot.stop_reason or "stopped") if state == DriverState.STOPPED else slot.context.stats.last_error
        try:
            self.on_state(device_id, state, since, reason)
        except Exception:  # publishing a state must never break a device
            log.exception("device %s: its state change could not be reported", device_id)

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

    async def stop(self, device_id: str, reason: str = "stopped") -> None:
        """Stop one device and wait for it to release its hardware; its state becomes `stopped` (``reason``)."""
        slot = self.slots.pop(device_id, None)
        if slot is None or slot.task is None:
            return
        if await self._end_task(slot, reason) and slot.context.stats.state != DriverState.STOPPED:
            # it had given up, or was waiting out its backoff: nothing ran to say `stopped`; its figures keep
            # the state it ended in, the published state says it is stopped
            self._report_state(slot, DriverState.STOPPED, time.time())

    async def _end_task(self, slot: DeviceSlot, reason: str) -> bool:
        """Cancel a device's task and wait for it; False if it did not end within STOP_WAIT_S."""
        assert slot.task is not None
        slot.stop_reason = reason
        slot.task.cancel()
        # asyncio.wait neither raises the device's own cancel nor swallows one aimed at us
        done, _ = await asyncio.wait([slot.task], timeout=STOP_WAIT_S)
        if not done:
            log.error("device %s did not stop within %g s; going on without it", slot.config.id, STOP_WAIT_S)
            return False
        if not slot.task.cancelled() and slot.task.exception() is not None:
            log.error("device %s raised while stopping: %r", slot.config.id, slot.task.exception())
        return True

    async def stop_all(self) -> None:
        """Stop every device."""
        await asyncio.gather(*(self.stop(device_id, "shutdown") for device_id in list(self.slots)))

    async def restart(self, device_id: str) -> None:
        """Stop one device and start it again with the same config and counters (cmd/device).

        KeyError for an id not running; TimeoutError when it does not release its hardware in time
        (a second task on the same hardware would fight the first, so none is started then).
        """
        slot = self.slots.get(device_id)
        if slot is None:
            raise KeyError(device_id)
        if slot.restarting:
            return  # the restart under way does it
        slot.restarting = True
        try:
            if slot.task is not None and not await self._end_task(slot, "restart requested"):
                raise TimeoutError(f"device {device_id} did not stop within {STOP_WAIT_S:g} s; not started again")
            if self.slots.get(device_id) is not slot:
                return  # removed or replaced by a reload meanwhile
            slot.stop_reason = None
            slot.restarts += 1
            slot.backoff.reset()
            log.info("device %s restarted on request", device_id)
            slot.task = asyncio.create_task(self._supervise(slot), name=f"device:{device_id}")
        finally:
            slot.restarting = False

    async def apply(self, configs: list[AnyDeviceConfig]) -> list[str]:
        """Reconcile running devices with a new device list; returns what changed."""
        wanted = {c.id: c for c in configs if c.enabled}
        changes = []
        retried = set()
        for device_id in list(self.slots):
            slot = self.slots[device_id]
            if device_id not in wanted or wanted[device_id] != slot.config:
                await self.stop(device_id, "removed from the config" if device_id not in wanted else "config changed")
                changes.append(f"stopped {device_id}")
            elif slot.task is not None and slot.task.done():  # given up (e.g. its extra was missing): try again
                await self.stop(device_id, "retried after a reload")
                retried.add(device_id)
        for device_id, config in wanted.items():
            if device_id not in self.slots:
                self.start(config)
                changes.append(f"{'retried' if device_id in retried else 'started'} {device_id}")
        return changes

    def health(self) -> dict[str, DeviceHealth]:
        """Per-device health for the health event and `storegw status`."""
        return {device_id: slot.health() for device_id, slot in self.slots.items()}
