"""What waits in RAM for the writer's next transaction: new events, the outbox's own notices, and acks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from gateway.outbox.failures import Failures
from gateway.outbox.quota import RamQueue
from gateway.outbox.rows import Draft, Row

log = logging.getLogger("storegw.outbox")

ACK_BATCH = 500
ACK_DELAY_S = 0.25


class Intake:
    """The RAM side of the outbox: producers add to it without blocking, the writer takes from it."""

    def __init__(self, failures: Failures, ram_queue_max: int, drop_order: tuple[str, ...],
                 monotonic: Callable[[], float]) -> None:
        """Empty; at ``ram_queue_max`` events the drop policy (``drop_order``) decides what goes."""
        self.failures = failures
        self.ram_queue_max = ram_queue_max
        self.monotonic = monotonic
        self.ram = RamQueue(ram_queue_max, drop_order)
        self.notices: list[Draft] = []
        self.in_flight = 0
        """Events taken from RAM into the transaction under way."""
        self.acks: list[int] = []
        self.wake = asyncio.Event()
        """Set when the writer has something to do."""
        self.idle = asyncio.Event()
        """Set only by an idle writer; cleared by every submit and ack."""
        self.idle.set()
        self.subscribers: list[Callable[[list[Row], list[Draft]], None]] = []

    def submit(self, name: str, subject: str, when: float, data: Any, topic: str) -> None:
        """Queue one event for the next transaction; never blocks the loop. At the RAM bound the drop
        policy decides what goes, counted as ram:{type}."""
        if self.idle.is_set():
            self.failures.work_arrived()
        for dropped in self.ram.append(Draft(name, subject, when, data, topic)):
            self.failures.ram_dropped(dropped)
        self.idle.clear()
        self.wake.set()

    def ack(self, seq: int) -> None:
        """Mark ``seq`` delivered (applied with the next transaction, or within ACK_DELAY_S)."""
        if self.idle.is_set():
            self.failures.work_arrived()
        self.acks.append(seq)
        self.idle.clear()
        # An ack lost to a crash only costs a duplicate, so acks do not get an fsync of their own
        # each: they ride along with new events, or go in groups.
        if len(self.acks) >= ACK_BATCH:
            self.wake.set()
        elif len(self.acks) == 1:
            asyncio.get_running_loop().call_later(ACK_DELAY_S, self.wake.set)

    def add_notice(self, draft: Draft) -> None:
        """Queue one of the outbox's own notices, committed before any new event."""
        self.notices.append(draft)
        self.idle.clear()
        self.wake.set()

    def put_back(self, drafts: list[Draft]) -> None:
        """Return drafts taken for a transaction that did not commit; the RAM bound then drops what it must."""
        for dropped in self.ram.put_back(drafts):
            self.failures.ram_dropped(dropped)

    def subscribe(self, callback: Callable[[list[Row], list[Draft]], None]) -> Callable[[], None]:
        """Call ``callback(rows, drafts)`` after each commit; returns an unsubscribe function."""
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback) if callback in self.subscribers else None

    def committed(self, rows: list[Row], drafts: list[Draft]) -> None:
        """Tell every subscriber about ``rows``; one that fails does not stop the others."""
        for callback in list(self.subscribers):
            try:
                callback(rows, drafts)
            except Exception:
                log.exception("outbox subscriber failed")

    @property
    def queued(self) -> int:
        """Events in RAM, not yet committed (including those in the transaction under way)."""
        return len(self.ram) + self.in_flight + len(self.notices)

    def has_work(self) -> bool:
        """Whether anything waits for a transaction."""
        return bool(self.notices or self.ram or self.acks)

    async def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        if self.idle.is_set():
            return True
        self.wake.set()
        try:
            async with asyncio.timeout(timeout):
                await self.idle.wait()
            return True
        except TimeoutError:
            return False
