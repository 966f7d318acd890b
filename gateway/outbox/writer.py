"""The writer: commits what waits in RAM in groups, and never ends on an error.

Events are grouped into transactions of up to ``batch_max`` rows; PUBACKs are applied in the same
transactions. A failed attempt is counted and reported (failures.py), followed by what can help
(set a corrupt file aside, free delivered rows on a full disk, reopen the connection) and retried
with backoff, while new events wait in the bounded RAM queue. It resumes by itself once the disk
has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from gateway.events.envelope import encode_event
from gateway.events.uuid7 import uuid7
from gateway.outbox.database import Database, write_counters
from gateway.outbox.errors import DatabaseClosed, describe, is_corrupt
from gateway.outbox.failures import Failures
from gateway.outbox.intake import Intake
from gateway.outbox.ledger import Ledger
from gateway.outbox.opening import Opener
from gateway.outbox.retention import Retention
from gateway.outbox.rows import Draft, Row
from gateway.outbox.schema import SAVE_META
from gateway.outbox.sequence import SequenceBook

log = logging.getLogger("storegw.outbox")

RETRY_MIN_S = 0.2
RETRY_MAX_S = 10.0
"""Backoff of a failing writer; far below any sensible stall_s (the config asks for at least 30 s)."""
REOPEN_EVERY = 5
"""After this many failed attempts in a row (not a full disk), the connection is closed and reopened."""
MAINTAIN_EVERY_S = 30.0
ACK_CHUNK = 500
"""Acks per UPDATE statement (SQLite's limit on bound parameters)."""


class Writer:
    """Takes batches from the intake and commits them, with the acks, skips, boot and counters that go along."""

    def __init__(self, *, source: str, batch_max: int, clock: Callable[[], float], monotonic: Callable[[], float],
                 database: Database, ledger: Ledger, sequence: SequenceBook, intake: Intake, failures: Failures,
                 retention: Retention, opener: Opener) -> None:
        """A writer of events from ``source`` (the CloudEvents source), up to ``batch_max`` per transaction."""
        self.source = source
        self.batch_max = batch_max
        self.clock = clock
        self.monotonic = monotonic
        self.database = database
        self.ledger = ledger
        self.sequence = sequence
        self.intake = intake
        self.failures = failures
        self.retention = retention
        self.opener = opener

    async def run(self) -> None:
        """Commit queued events and acks in groups until cancelled; no error ends it."""
        intake = self.intake
        delay = 0.0
        last_maintenance = self.monotonic()
        while True:
            during = "write"
            try:
                if not intake.notices and not intake.ram:
                    if not intake.acks:
                        intake.idle.set()
                    intake.wake.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                    # arrives as the event is set, and the writer then never stops
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(5.0):
                            await intake.wake.wait()
                if await self._shielded(self.write_once()):
                    self.failures.succeeded(len(intake.ram))
                self.failures.attempt_ended()
                delay = 0.0
                if self.monotonic() - last_maintenance > MAINTAIN_EVERY_S:
                    last_maintenance = self.monotonic()
                    during = "maintenance"
                    await self._shielded(self.retention.maintain())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = min(max(delay * 2, RETRY_MIN_S), RETRY_MAX_S)
                self.failures.failed(exc, during, intake.queued)
                try:
                    await self._shielded(self._recover(exc))
                except asyncio.CancelledError:
                    raise
                except Exception as again:
                    self.failures.failed(again, "recovery", intake.queued)
                await asyncio.sleep(delay)

    @staticmethod
    async def _shielded(coro: Any) -> Any:
        """Run ``coro`` so that a cancel lands after it, never inside it (RAM and disk always agree)."""
        job = asyncio.ensure_future(coro)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await job
            raise

    async def write_once(self) -> bool:
        """One transaction: the outbox's notices, up to batch_max new events and every pending ack.

        Returns False when there was nothing to do.
        """
        intake = self.intake
        if not intake.has_work():
            return False
        if self.database.conn is None:
            raise DatabaseClosed("the outbox database is not open")
        notices = len(intake.notices)
        # Taken out of the queue first, so RAM-overflow drops during the await cannot hit them.
        taken = intake.ram.take(max(1, self.batch_max - notices))
        acks = intake.acks[:]
        now = self.clock()
        encoded: set[int] | None = None
        intake.in_flight = len(taken)
        try:
            rows, drafts, params = self._encode([*intake.notices[:notices], *taken], self.ledger.last_seq + 1, now)
            encoded = {id(draft) for draft in drafts}
            acked = await self.commit(params, acks, now)
        except BaseException:
            intake.put_back(taken if encoded is None else [draft for draft in taken if id(draft) in encoded])
            raise
        finally:
            intake.in_flight = 0
        del intake.notices[:notices]
        del intake.acks[:len(acks)]
        self._after_commit(rows, acked, now)
        if rows:
            intake.committed(rows, drafts)
            await self.retention.refresh_usage()
            if self.retention.over_quota():
                await self.retention.enforce_quota()
        return True

    def _encode(self, batch: list[Draft], first: int, now: float) -> tuple[list[Row], list[Draft], list[tuple]]:
        """Number and serialise ``batch`` from ``first``; an event that cannot be encoded is dropped, counted."""
        rows: list[Row] = []
        drafts: list[Draft] = []
        params: list[tuple] = []
        for draft in batch:
            seq = first + len(rows)
            try:
                payload = encode_event(event_id=str(uuid7()), source=self.source, name=draft.name,
                                       subject=draft.subject, time=draft.time, seq=seq, gwboot=self.ledger.boot,
                                       data=draft.data)
            except Exception as exc:
                # retrying cannot help an event that will never encode: it would block every one after it
                self.ledger.count_drop(f"invalid:{draft.name}", 1)
                if self.failures.first_report(f"encode:{draft.name}:{type(exc).__name__}"):
                    log.error("outbox: a %s event cannot be encoded (%s); dropped, counted as invalid:%s",
                              draft.name, describe(exc), draft.name)
                continue
            rows.append(Row(seq, draft.topic, payload))
            drafts.append(draft)
            params.append((seq, draft.name, draft.topic, now, payload))
        return rows, drafts, params

    async def commit(self, params: list[tuple], acks: list[int], now: float) -> int:
        """Insert the encoded rows and apply ``acks``, atomically and durably; returns rows acked."""
        if params and params[-1][0] > self.sequence.reserved:
            self.sequence.reserve(params[-1][0])
        ledger = self.ledger
        acked = 0
        async with self.database.transaction() as conn:
            if params:
                await conn.executemany(
                    "INSERT INTO events(seq, type, topic, created, payload) VALUES (?,?,?,?,?)", params)
            for start in range(0, len(acks), ACK_CHUNK):
                chunk = acks[start:start + ACK_CHUNK]
                cur = await conn.execute(
                    f"UPDATE events SET acked_at=? WHERE acked_at IS NULL AND seq IN "
                    f"({','.join('?' * len(chunk))})", (now, *chunk))
                acked += cur.rowcount
            skips = self.sequence.unsaved_skips()
            if skips:
                await conn.executemany(
                    "INSERT OR REPLACE INTO skipped(from_seq, to_seq, reason) VALUES (?, ?, ?)", skips)
            boot_written = ledger.boot_unsaved
            if boot_written:
                await conn.execute(SAVE_META, ("boot", str(ledger.boot)))
            counters_written = ledger.dirty_counters
            if counters_written:
                await write_counters(conn, ledger.counters.flat())
        if boot_written:
            ledger.boot_unsaved = False
        if counters_written:
            ledger.dirty_counters = False
        self.sequence.skips_saved(skips)
        return acked

    def _after_commit(self, rows: list[Row], acked: int, now: float) -> None:
        """Update the in-memory figures once a transaction is durable."""
        ledger = self.ledger
        if rows:
            ledger.last_seq = self.sequence.committed = rows[-1].seq
            if ledger.pending == 0:
                ledger.oldest_pending_created = now
            ledger.pending += len(rows)
        ledger.rows_gone(acked)  # recomputed lazily by the readers
        self.failures.progressed()

    async def save_counters(self) -> None:
        """Persist the counters in a transaction of their own."""
        async with self.database.transaction() as conn:
            await write_counters(conn, self.ledger.counters.flat())
        self.ledger.dirty_counters = False

    async def _recover(self, exc: BaseException) -> None:
        """What can help before a failed attempt is retried; its own errors are the caller's to report."""
        if self.opener.opened:
            try:
                self.sequence.save_state()  # counters reach the disk even when the database cannot
            except OSError as state_error:
                self.failures.failed(state_error, "state file", self.intake.queued)
        if self.database.conn is None or is_corrupt(exc):
            await self.opener.reopen(exc if is_corrupt(exc) else None)
        elif self.failures.disk_full:
            if await self.retention.prune_acked(limit=None, older_than=None):
                await self.retention.refresh_usage()
        elif self.failures.failures % REOPEN_EVERY == 0:
            log.warning("outbox: %d failed attempts in a row; reopening the database", self.failures.failures)
            await self.opener.reopen(None)
