"""The durable outbox: every event is committed here before anything else happens to it.

`Outbox` is the one object the rest of the gateway uses; its parts each have one job:

- schema.py: tables, settings and the figures' statements (shared with `storegw outbox stats`)
- database.py: the single connection, its lock, and the one transaction helper
- opening.py: open or create the file, set a corrupt one aside, continue the sequence
- sequence.py: sequence numbers reserved in the state file, and the ranges never issued
- intake.py: what waits in RAM (bounded, dropped by policy at the bound)
- writer.py: the transactions, and what is tried when one fails; failures.py: counting,
  reporting and judging those failures
- retention.py: age-based pruning and the disk quota
- ledger.py: the figures in memory
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from gateway.outbox.counters import OutboxCounters
from gateway.outbox.database import Database
from gateway.outbox.errors import describe
from gateway.outbox.failures import Failures
from gateway.outbox.intake import Intake
from gateway.outbox.ledger import Ledger
from gateway.outbox.opening import Opener
from gateway.outbox.quota import QuotaPolicy
from gateway.outbox.retention import Retention
from gateway.outbox.rows import Draft, Row
from gateway.outbox.schema import OLDEST_PENDING_CREATED
from gateway.outbox.sequence import SequenceBook
from gateway.outbox.sidecar import Sidecar
from gateway.outbox.writer import Writer

__all__ = ["Draft", "Outbox", "OutboxCounters", "Row"]

log = logging.getLogger("storegw.outbox")

STATS_WAIT_S = 2.0
"""How long a stats request waits for the transaction in flight (the report must not hang on a stuck disk)."""


class Outbox:
    """Durable, sequenced store of events between the pipelines and the publisher."""

    def __init__(self, path: str, *, source: str, quota: QuotaPolicy, batch_max: int = 1000,
                 ram_queue_max: int = 100_000, stall_s: float = 120.0, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """An outbox at ``path``, not open yet (``open()``, then ``run()`` as the writer task)."""
        self.path = path
        self.ram_queue_max = ram_queue_max
        self.stall_s = stall_s
        self.clock = clock
        self.ledger = Ledger()
        self.database = Database(path)
        self.sequence = SequenceBook(path, Sidecar(path + ".state.json"), self.ledger)
        self.failures = Failures(self.ledger, monotonic, ram_queue_max, quota.drop_order)
        self.intake = Intake(self.failures, ram_queue_max, quota.drop_order, monotonic)
        self.opener = Opener(self.database, self.ledger, self.sequence, clock, self.intake.add_notice)
        self.retention = Retention(path, self.database, self.ledger, quota, clock, self.failures.attempt_ended)
        self.writer = Writer(source=source, batch_max=batch_max, clock=clock, monotonic=monotonic,
                             database=self.database, ledger=self.ledger, sequence=self.sequence, intake=self.intake,
                             failures=self.failures, retention=self.retention, opener=self.opener)

    # ---- settings the daemon changes on reload ------------------------------------------
    @property
    def source(self) -> str:
        """The CloudEvents source of the events committed from now on."""
        return self.writer.source

    @source.setter
    def source(self, value: str) -> None:
        """Change the source (a reload with a new store or gateway id)."""
        self.writer.source = value

    @property
    def notice_to(self) -> Callable[[str], tuple[str, str]] | None:
        """event name -> (subject, topic) of the outbox's own notices (sequence-gap); set by the app.
        Without it a skip is only logged."""
        return self.opener.notice_to

    @notice_to.setter
    def notice_to(self, route: Callable[[str], tuple[str, str]] | None) -> None:
        """Set where the outbox's own notices go."""
        self.opener.notice_to = route

    @property
    def quota(self) -> QuotaPolicy:
        """Retention and drop policy."""
        return self.retention.quota

    @property
    def batch_max(self) -> int:
        """Events per transaction at most."""
        return self.writer.batch_max

    # ---- figures -----------------------------------------------------------------------
    @property
    def boot(self) -> int:
        """This start's boot number (one more than the last one recorded)."""
        return self.ledger.boot

    @property
    def last_seq(self) -> int:
        """The highest sequence number committed (or skipped to)."""
        return self.ledger.last_seq

    @property
    def pending(self) -> int:
        """Committed rows not delivered yet."""
        return self.ledger.pending

    @property
    def used_bytes(self) -> int:
        """Bytes in use by the database."""
        return self.ledger.used_bytes

    @property
    def counters(self) -> OutboxCounters:
        """Drops, write errors and recoveries, persisted across restarts."""
        return self.ledger.counters

    @property
    def oldest_pending_created(self) -> float | None:
        """Commit time of the oldest undelivered row, None when unknown."""
        return self.ledger.oldest_pending_created

    @property
    def queued(self) -> int:
        """Events in RAM, not yet committed (including those in the transaction under way)."""
        return self.intake.queued

    @property
    def last_error(self) -> str | None:
        """The storage error of the last failed attempt (None once a transaction succeeds)."""
        return self.failures.last_error

    # ---- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Open (or create, or recover) the database and start a new boot.

        Raises floor.ClockUntrusted when the sequence can only continue from a clock that is wrong.
        """
        try:
            await self.opener.open()
        except BaseException:
            await self.database.close()  # no connection thread left behind to keep the process alive
            raise

    async def close(self) -> None:
        """Commit what is still in RAM (the writer task is stopped by now), count what cannot be, and close."""
        while self.database.conn is not None and self.intake.has_work():
            try:
                await self.writer.write_once()
            except Exception as exc:
                log.error("outbox: cannot commit at shutdown (%s)", describe(exc))
                break
        lost = self.intake.ram.drain()
        for draft in lost:
            self.ledger.count_drop(f"shutdown:{draft.name}", 1)
        if lost:
            log.error("outbox: %d events in RAM could not be committed at shutdown; counted as dropped "
                      "(shutdown:TYPE)", len(lost))
        if self.database.conn is not None and self.ledger.dirty_counters:
            with contextlib.suppress(Exception):
                await self.writer.save_counters()
        if self.opener.opened:
            try:
                self.sequence.save_state()  # the counters, even when the database cannot take them
            except OSError as exc:
                log.error("outbox: cannot save the state file at shutdown (%s); counters since the last save "
                          "are lost", exc)
        async with self.database.lock:
            await self.database.close()

    # ---- producers ---------------------------------------------------------------------
    def submit(self, name: str, subject: str, when: float, data: Any, topic: str) -> None:
        """Queue one event for the next transaction; never blocks the loop. At the RAM bound the drop
        policy decides what goes, counted as ram:{type}."""
        self.intake.submit(name, subject, when, data, topic)

    def ack(self, seq: int) -> None:
        """Mark ``seq`` delivered (applied with the next transaction, or within a quarter second)."""
        self.intake.ack(seq)

    def subscribe(self, callback: Callable[[list[Row], list[Draft]], None]) -> Callable[[], None]:
        """Call ``callback(rows, drafts)`` after each commit; returns an unsubscribe function."""
        return self.intake.subscribe(callback)

    # ---- the writer --------------------------------------------------------------------
    async def run(self) -> None:
        """Commit queued events and acks in groups until cancelled; no error ends it."""
        await self.writer.run()

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        return await self.intake.flush(timeout)

    def stall(self, stall_s: float | None = None) -> str | None:
        """Why the writer counts as stuck (nothing committed for stall_s while events wait), or None."""
        return self.failures.stall(self.stall_s if stall_s is None else stall_s,
                                   busy=self.intake.has_work() or bool(self.intake.in_flight),
                                   queued=self.intake.queued, in_ram=len(self.intake.ram))

    def writer_state(self) -> str:
        """ok, retrying (the last attempt failed) or stalled (see stall())."""
        if self.stall() is not None:
            return "stalled"
        return "retrying" if self.failures.failing_since is not None else "ok"

    # ---- maintenance -------------------------------------------------------------------
    async def maintain(self) -> None:
        """Age-based pruning and quota enforcement; run every few tens of seconds."""
        await self.retention.maintain()

    async def prune_acked(self, *, limit: int | None, older_than: float | None) -> int:
        """Delete acked rows (oldest first); returns how many went."""
        return await self.retention.prune_acked(limit=limit, older_than=older_than)

    async def enforce_quota(self) -> None:
        """Bring the database under its quota: acked rows first, then the drop policy."""
        await self.retention.enforce_quota()

    def never_issued_ranges(self, from_seq: int, to_seq: int) -> list[tuple[int, int]]:
        """The parts of from_seq..to_seq that were skipped, never given to an event (sequence-gap events)."""
        return self.sequence.never_issued_ranges(from_seq, to_seq)

    # ---- readers -----------------------------------------------------------------------
    async def read_pending(self, after_seq: int, limit: int) -> list[Row]:
        """Undelivered rows with seq > after_seq, in order."""
        return await self._read_rows(
            "SELECT seq, topic, payload FROM events WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit))

    async def read_range(self, from_seq: int, to_seq: int, limit: int) -> list[Row]:
        """Rows from_seq..to_seq still held (delivered or not), in order."""
        return await self._read_rows(
            "SELECT seq, topic, payload FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
            (from_seq, to_seq, limit))

    async def _read_rows(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        """Rows of a SELECT of seq, topic and payload; none while the database is closed."""
        async with self.database.lock:
            if self.database.conn is None:
                return []
            async with self.database.conn.execute(sql, args) as cur:
                return [Row(*r) for r in await cur.fetchall()]

    async def oldest_pending_age(self) -> float | None:
        """Seconds since the oldest undelivered row was committed."""
        ledger = self.ledger
        if ledger.pending == 0:
            return None
        if ledger.oldest_pending_created is None:
            async with self.database.lock:
                if self.database.conn is None:
                    return None
                async with self.database.conn.execute(OLDEST_PENDING_CREATED) as cur:
                    row = await cur.fetchone()
            ledger.oldest_pending_created = row[0] if row else None
        if ledger.oldest_pending_created is None:
            return None
        return max(0.0, self.clock() - ledger.oldest_pending_created)

    async def stats(self) -> dict[str, Any]:
        """The figures of `storegw outbox stats` and the health event."""
        # A transaction whose COMMIT is durable may not have updated the figures in memory yet; waiting
        # for the connection (bounded, the report must not hang on a stuck disk) keeps the two in step.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STATS_WAIT_S):
                async with self.database.lock:
                    pass
        try:
            age = await self.oldest_pending_age()
        except sqlite3.Error:
            age = None  # the health report must not fail with the database
        return {
            "last_seq": self.last_seq,
            "pending": self.pending,
            "queued_in_ram": self.queued,
            "ram_queue_max": self.ram_queue_max,
            "oldest_pending_age_s": None if age is None else round(age, 3),
            "bytes": self.used_bytes,
            "max_bytes": self.quota.max_bytes,
            "dropped": dict(self.counters.dropped),
            "write_errors": self.counters.write_errors,
            "recoveries": self.counters.recoveries,
            "boot": self.boot,
            "writer": self.writer_state(),
            "last_error": self.last_error,
        }
