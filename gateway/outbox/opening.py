"""Opening the outbox file: create or read it, set a corrupt one aside, and continue the sequence above every
number that may have been issued."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable

import aiosqlite

from gateway.events.types.sequence import SequenceGapData
from gateway.outbox import floor
from gateway.outbox.counters import merged_counters
from gateway.outbox.database import Database
from gateway.outbox.errors import CorruptDatabase, describe, is_corrupt, is_full
from gateway.outbox.ledger import Ledger
from gateway.outbox.rows import Draft
from gateway.outbox.schema import COUNTERS, LAST_SEQ, salvage
from gateway.outbox.sequence import SequenceBook, state_count

log = logging.getLogger("storegw.outbox")

GAP_EVENT = "sequence-gap"


class Opener:
    """Brings the database from a file on disk (or none, or a corrupt one) to open, numbered and counted."""

    def __init__(self, database: Database, ledger: Ledger, sequence: SequenceBook, clock: Callable[[], float],
                 add_notice: Callable[[Draft], None]) -> None:
        """The opener of ``database``; the outbox's own notices (sequence-gap) go to ``add_notice``."""
        self.path = database.path
        self.database = database
        self.ledger = ledger
        self.sequence = sequence
        self.clock = clock
        self.add_notice = add_notice
        self.notice_to: Callable[[str], tuple[str, str]] | None = None
        """event name -> (subject, topic) of the outbox's own notices; without it a skip is only logged."""
        self.opened = False
        self.aside = False
        """A corrupt file was set aside while opening."""

    async def open(self) -> None:
        """Open (or create, or recover) the database and start a new boot.

        Raises floor.ClockUntrusted when the sequence can only continue from a clock that is wrong.
        """
        os.makedirs(os.path.dirname(os.path.abspath(self.path)) or ".", exist_ok=True)
        history = floor.has_history(self.path)
        state = self.sequence.sidecar.load()
        self.ledger.counters.merge(state.get("counters") if isinstance(state.get("counters"), dict) else {})
        self.sequence.load(state)
        await self.open_db()
        if self.ledger.last_seq == 0:
            await self.start_numbering(history=history or self.sequence.sidecar.unreadable)
        self.sequence.mark_if_issued()
        stored_boot = await self.database.meta("boot", "0")
        self.ledger.boot = max(state_count(state.get("boot")), int(stored_boot) if stored_boot.isdigit() else 0) + 1
        try:
            await self.database.set_meta("boot", str(self.ledger.boot))
        except sqlite3.OperationalError as exc:
            if not is_full(exc):
                raise
            # a full disk is survived: the boot is written with the first transaction, before any
            # event carrying it is committed
            self.ledger.boot_unsaved = True
            log.error("outbox: the disk is full at start (%s); events wait in RAM until it has room",
                      describe(exc))
        self.ledger.used_bytes = await self.database.used_bytes()
        self.opened = True

    async def open_db(self) -> None:
        """Connect and read the state; a corrupt file is set aside and a fresh one started."""
        try:
            await self._load_state(await self.database.connect())
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                await self.database.close()
                raise
            await self.set_aside(exc)
            try:
                await self._load_state(await self.database.connect())
            except BaseException:
                await self.database.close()
                raise

    async def reopen(self, corrupt: BaseException | None) -> None:
        """Reconnect (setting a corrupt file aside first); continue the sequence if the file is new."""
        numbered = self.ledger.last_seq
        self.aside = False
        async with self.database.lock:  # readers wait rather than meet a connection half set up
            if corrupt is not None:
                await self.set_aside(corrupt)
            else:
                await self.database.close()
            await self.open_db()
        if self.ledger.last_seq == 0 and numbered > 0:
            await self.start_numbering(history=True)
        self.ledger.last_seq = max(self.ledger.last_seq, numbered)  # never number below what was handed out
        self.ledger.boot_unsaved = True
        self.ledger.used_bytes = await self.database.used_bytes()

    async def start_numbering(self, *, history: bool) -> None:
        """On a database with no sequence yet, continue above every number that may have been issued."""
        sequence = self.sequence
        if sequence.reserved > 0:
            reason = "database-corrupt" if self.aside else "database-missing"
            start, first_unknown = sequence.reserved, sequence.committed + 1
            log.warning("outbox %s has no sequence but the state file reserved up to %d; continuing at %d "
                        "(a sequence-gap event tells the backend)", self.path, sequence.reserved, start + 1)
        elif history or self.aside:
            now = self.clock()
            floor.check_clock(now, self.path)
            reason, start, first_unknown = "clock-floor", floor.clock_floor(now), 1
            log.warning("outbox %s and its state file are both lost; continuing above the clock's floor, at %d "
                        "(a sequence-gap event tells the backend)", self.path, start + 1)
        else:
            return  # a new outbox in a directory that never had one: numbering starts at 1
        self.ledger.last_seq = start
        if first_unknown > start:
            return
        sequence.remember_skip(first_unknown, start, reason)
        if self.notice_to is None:
            # nobody to tell: make the floor durable on its own
            await self.database.write("INSERT OR REPLACE INTO sqlite_sequence(name, seq) VALUES('events', ?)",
                                      (start,))
            return
        subject, topic = self.notice_to(GAP_EVENT)
        # committed first, in the transaction that takes the first number after the gap: the skip
        # and its notice are durable together, or neither is (and are worked out again at the next start)
        self.add_notice(Draft(GAP_EVENT, subject, self.clock(),
                              SequenceGapData(from_seq=first_unknown, to_seq=start, reason=reason), topic))

    async def _load_state(self, conn: aiosqlite.Connection) -> None:
        """Read sequence, depth and counters from the database; fails on a corrupt file."""
        async with conn.execute("PRAGMA quick_check(1)") as cur:
            check = await cur.fetchone()
        if not check or check[0] != "ok":
            raise CorruptDatabase(f"quick_check: {check[0] if check else 'no answer'}")
        async with conn.execute(LAST_SEQ) as cur:
            row = await cur.fetchone()
        self.ledger.last_seq = int(row[0]) if row else 0
        self.sequence.committed = max(self.sequence.committed, self.ledger.last_seq)
        async with conn.execute("SELECT count(*), min(created) FROM events WHERE acked_at IS NULL") as cur:
            count, oldest = await cur.fetchone()  # type: ignore[misc]
        self.ledger.pending = int(count)
        self.ledger.oldest_pending_created = oldest
        async with conn.execute("SELECT from_seq, to_seq, reason FROM skipped") as cur:
            self.sequence.load_skipped(list(await cur.fetchall()))
        async with conn.execute(COUNTERS) as cur:
            stored = {name: value for name, value in await cur.fetchall()}
        self.ledger.counters.merge(stored)
        if merged_counters(stored) != self.ledger.counters.flat():
            self.ledger.dirty_counters = True  # the state file or RAM knew more than this database

    async def set_aside(self, exc: BaseException) -> None:
        """Move a corrupt database (and its WAL) aside and count the recovery."""
        await self.database.close()
        salvaged_seq, salvaged_pending = await asyncio.to_thread(salvage, self.path)
        if 0 < salvaged_seq <= self.sequence.reserved:  # a plausible figure sharpens where the skipped numbers begin
            self.sequence.committed = max(self.sequence.committed, salvaged_seq)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = f"{self.path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, target + suffix)
        log.error("outbox database %s is corrupt (%s); moved it to %s and started a fresh one. "
                  "Events not yet delivered from it are lost unless recovered by hand (sqlite3 .recover)",
                  self.path, exc, target)
        self.aside = True
        ledger = self.ledger
        ledger.counters.recoveries += 1
        ledger.counters.dropped["corrupt"] = ledger.counters.dropped.get("corrupt", 0) + max(ledger.pending,
                                                                                              salvaged_pending)
        ledger.pending = 0
        ledger.oldest_pending_created = None
        ledger.dirty_counters = True
        ledger.boot_unsaved = True
