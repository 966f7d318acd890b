"""The driver contract shared by every device family."""

from __future__ import annotations

import abc
import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

R = TypeVar("R")


class DriverState(StrEnum):
    """Link state of a driver as shown in health and `storegw status`."""

    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


StateListener = Callable[[DriverState], None]
"""Told each new state the moment it is set (on the thread that set it)."""


@dataclass
class DriverStats:
    """Counters a driver keeps about its device; read by the supervisor for health."""

    state: DriverState = DriverState.STARTING
    """Set by the driver and the supervisor; every change is told to ``on_state`` (no polling)."""
    readings: int = 0
    last_reading_monotonic: float | None = None
    reconnects: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    extra: dict[str, int | float | bool] = field(default_factory=dict)
    """Figures of the device's kind, by the names the health event declares for them (e.g. "tracks")."""
    on_state: StateListener | None = field(default=None, repr=False, compare=False)
    """Who is told of each change of ``state`` (the supervisor, which publishes the device's state)."""

    def count_error(self, kind: str, message: str | None = None) -> None:
        """Count one error of ``kind`` and remember the latest message."""
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if message is not None:
            self.last_error = message

    def mark_reading(self, n: int = 1) -> None:
        """Record that ``n`` readings just arrived."""
        self.readings += n
        self.last_reading_monotonic = time.monotonic()

    def last_reading_age_s(self) -> float | None:
        """Seconds since the last reading (to the millisecond), None before the first."""
        if self.last_reading_monotonic is None:
            return None
        return round(time.monotonic() - self.last_reading_monotonic, 3)


def _get_state(stats: DriverStats) -> DriverState:
    """The driver's link state."""
    return stats._state  # type: ignore[attr-defined, no-any-return]


def _set_state(stats: DriverStats, value: DriverState) -> None:
    """Set the state (drivers and the supervisor assign it directly); a change is told to ``on_state``."""
    previous = stats.__dict__.get("_state")
    stats._state = value  # type: ignore[attr-defined]
    listener = stats.on_state
    if listener is not None and value != previous:
        listener(value)


# A property in place of the field's class attribute, after @dataclass made __init__, __eq__ and __repr__ (which
# still take and show `state`): only setting the state goes through code; readings and counters stay plain
# attributes, so the hot path (mark_reading, thousands of times a second) costs nothing more.
DriverStats.state = property(_get_state, _set_state, doc="The link state; every change is told to on_state.")  # type: ignore[assignment, method-assign]


class Driver(abc.ABC, Generic[R]):
    """A device as an async producer of typed readings.

    ``run(sink)`` owns the device for its lifetime: it connects, hands every reading to
    ``sink`` (a plain callable, called on the event loop thread), survives transient faults
    itself (reconnecting with backoff and counting them in ``stats``: ``retry_later``,
    ``report_problem``, ``link_up``) and returns or raises only when it cannot go on; the
    supervisor then restarts it with its own backoff.
    ``shutdown()`` may be called any number of times from the loop thread.
    """

    kind: str = ""

    def __init__(self, device_id: str, *, stats: DriverStats | None = None, backoff: Backoff | None = None) -> None:
        self.device_id = device_id
        self.stats = stats if stats is not None else DriverStats()
        """Shared with whoever reports this device's health (the runner passes its own)."""
        self.backoff = backoff if backoff is not None else Backoff()
        """Paces reconnect attempts; a subclass passes its own limits."""
        self.log = logging.getLogger(f"storegw.driver.{self.kind or 'base'}")
        self._closed = False

    @abc.abstractmethod
    async def run(self, sink: Callable[[R], None]) -> None:
        """Produce readings into ``sink`` until cancelled or shut down."""

    def report_problem(self, kind: str, message: str, *, then: str = "") -> None:
        """The link is lost or unusable: mark it reconnecting, count ``kind``, log ``message`` if it is new.

        A device that stays away fails the same way on every attempt: one log line per new problem,
        not one per retry (``then`` is appended to that line, e.g. "; reconnecting").
        """
        self.stats.state = DriverState.RECONNECTING
        if message != self.stats.last_error:
            self.log.warning("%s: %s%s", self.device_id, message, then)
        self.stats.count_error(kind, message)

    async def retry_later(self, kind: str, message: str, *, then: str = "") -> None:
        """Report the problem (see ``report_problem``), then wait out the backoff before the next attempt."""
        self.report_problem(kind, message, then=then)
        await self.backoff.sleep()

    def link_up(self, reconnected: bool) -> None:
        """The device answers again: CONNECTED, and one more reconnect counted unless this is the first link."""
        if reconnected:
            self.stats.reconnects += 1
        self.stats.state = DriverState.CONNECTED

    def shutdown(self) -> None:
        """Release the device; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stats.state = DriverState.STOPPED
        self._shutdown()

    def _shutdown(self) -> None:
        """Release resources held by the subclass (called once)."""

    @property
    def closed(self) -> bool:
        """True once ``shutdown()`` was called."""
        return self._closed


@dataclass
class Backoff:
    """Jittered exponential backoff ("full jitter"), so a fleet does not retry in lock-step."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        """Return the delay before the next attempt and advance."""
        cap = min(self.maximum, self.initial * (self.factor**self.attempt))
        self.attempt += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        """Start again from the initial delay after a success."""
        self.attempt = 0

    async def sleep(self) -> float:
        """Sleep for the next delay and return it."""
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay
