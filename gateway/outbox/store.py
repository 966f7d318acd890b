"""The durable outbox: every event is committed here before anything else happens to it.

One aiosqlite connection does everything (two writers fail with SQLITE_BUSY_SNAPSHOT), in
WAL mode with ``synchronous=FULL`` (NORMAL can lose the last commits on power loss and hand
their sequence numbers out again). Events are grouped into transactions of up to
``batch_max`` rows; PUBACKs are applied in the same transactions. The sequence is the
``INTEGER PRIMARY KEY AUTOINCREMENT`` of the row, so it is never reused, and a reservation
kept in a sidecar file lets it continue past a corrupt database that had to be set aside
(`floor.py` covers losing both).

The writer never ends on an error: a failed attempt is counted, reported once per new error,
followed by what can help (set a corrupt file aside, free delivered rows on a full disk,
reopen the connection) and retried with backoff, while new events wait in a bounded RAM
queue whose overflow the drop policy decides. It resumes by itself once the disk has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiosqlite

from gateway.events.envelope import encode_event
from gateway.events.types.sequence import SequenceGapData
from gateway.events.uuid7 import uuid7
from gateway.outbox import floor
from gateway.outbox.quota import QuotaPolicy, RamQueue
from gateway.outbox.sidecar import Sidecar, merged_counters

log = logging.getLogger("storegw.outbox")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    topic TEXT NOT NULL,
    created REAL NOT NULL,
    acked_at REAL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_pending ON events(seq) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS events_pending_type ON events(type, seq) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS events_acked ON events(acked_at) WHERE acked_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS skipped (from_seq INTEGER PRIMARY KEY, to_seq INTEGER NOT NULL, reason TEXT NOT NULL);
"""

# Sequence numbers reserved ahead in the sidecar; a corrupt database costs at most this gap.
SEQ_RESERVE = 100_000
ACK_BATCH = 500
ACK_DELAY_S = 0.25
CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
FULL_CODES = {"SQLITE_FULL"}
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
RETRY_MIN_S = 0.2
RETRY_MAX_S = 10.0
"""Backoff of a failing writer; far below any sensible stall_s (the config asks for at least 30 s)."""
REOPEN_EVERY = 5
"""After this many failed attempts in a row (not a full disk), the connection is closed and reopened."""
MAINTAIN_EVERY_S = 30.0
DISTINCT_ERRORS_LOGGED = 20
"""Distinct errors logged in one failing spell; more are only counted (a failure cannot flood the log)."""
GAP_EVENT = "sequence-gap"
SKIPPED_KEPT = 1000
"""Skipped ranges remembered (a handful in a gateway's life; the oldest are forgotten beyond this)."""


class Row(NamedTuple):
    """One committed event as the publisher needs it."""

    seq: int
    topic: str
    payload: bytes


@dataclass(slots=True)
class Draft:
    """An event waiting in RAM for its transaction."""

    name: str
    subject: str
    time: float
    data: Any
    topic: str


@dataclass
class OutboxCounters:
    """What the outbox has had to give up or survive, persisted across restarts."""

    dropped: dict[str, int] = field(default_factory=dict)
    write_errors: int = 0
    recoveries: int = 0

    def flat(self) -> dict[str, int]:
        """The counters as stored: write_errors, recoveries and dropped.{reason}:{type}."""
        return {"write_errors": self.write_errors, "recoveries": self.recoveries,
                **{f"dropped.{key}": value for key, value in self.dropped.items()}}

    def merge(self, flat: dict[str, int]) -> None:
        """Take the higher of each stored counter and the one in memory (counters only grow)."""
        merged = merged_counters(self.flat(), flat)
        self.write_errors = merged.pop("write_errors", 0)
        self.recoveries = merged.pop("recoveries", 0)
        self.dropped = {name.removeprefix("dropped."): value for name, value in merged.items()
                        if name.startswith("dropped.")}


class CorruptDatabase(sqlite3.DatabaseError):
    """The database failed its integrity check."""


class DatabaseClosed(sqlite3.OperationalError):
    """The connection is gone (a reopen failed); the writer reopens it before retrying."""


def _errorname(exc: BaseException) -> str:
    """SQLite's primary error name of an exception, e.g. SQLITE_FULL (extended codes folded)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not name:
        text = str(exc).lower()
        if "malformed" in text:
            name = "SQLITE_CORRUPT"
        elif "not a database" in text:
            name = "SQLITE_NOTADB"
        elif "disk is full" in text:
            name = "SQLITE_FULL"
    return "_".join(name.split("_")[:2])


def _is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` says the database file itself is damaged (and must be set aside)."""
    return isinstance(exc, CorruptDatabase) or _errorname(exc) in CORRUPT_CODES


def _is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the database's size limit) has no room."""
    return _errorname(exc) in FULL_CODES or (isinstance(exc, OSError) and exc.errno in FULL_ERRNOS)


def _describe(exc: BaseException) -> str:
    """One line naming an error, e.g. "SQLITE_FULL: database or disk is full"."""
    return f"{_errorname(exc) or type(exc).__name__}: {exc}"


def _salvage(path: str) -> tuple[int, int]:
    """Best effort on a corrupt database: its last sequence number and undelivered rows (0 when unreadable)."""
    last = pending = 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0, 0
    try:
        with contextlib.suppress(sqlite3.Error, TypeError, ValueError):
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
            last = int(row[0]) if row else 0
        with contextlib.suppress(sqlite3.Error, TypeError, ValueError):
            pending = int(db.execute("SELECT count(*) FROM events WHERE acked_at IS NULL").fetchone()[0])
    finally:
        db.close()
    return max(0, last), max(0, pending)


def _ranges(value: Any) -> list[tuple[int, int, str]]:
    """Skipped ranges from a state file: [from, to, reason] lists; anything malformed is left out."""
    out = []
    for item in value if isinstance(value, list) else []:
        if (isinstance(item, list) and len(item) == 3 and _count(item[0]) >= 1 and _count(item[1]) >= item[0]
                and isinstance(item[2], str)):
            out.append((item[0], item[1], item[2]))
    return out


def _count(value: Any) -> int:
    """A non-negative integer from a state file, or 0 for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class Outbox:
    """Durable, sequenced store of events between the pipelines and the publisher."""

    def __init__(self, path: str, *, source: str, quota: QuotaPolicy, batch_max: int = 1000,
                 ram_queue_max: int = 100_000, stall_s: float = 120.0, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """An outbox at ``path``, not open yet (``open()``, then ``run()`` as the writer task)."""
        self.path = path
        self.source = source
        self.quota = quota
        self.batch_max = batch_max
        self.ram_queue_max = ram_queue_max
        self.stall_s = stall_s
        self.clock = clock
        self.monotonic = monotonic
        self.sidecar = Sidecar(path + ".state.json")
        self.boot = 0
        self.last_seq = 0
        self.pending = 0
        self.used_bytes = 0
        self.counters = OutboxCounters()
        self.oldest_pending_created: float | None = None
        self.notice_to: Callable[[str], tuple[str, str]] | None = None
        """event name -> (subject, topic) of the outbox's own notices (sequence-gap); set by the app.
        Without it a skip is only logged."""
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._ram = RamQueue(ram_queue_max, quota.drop_order)
        self._notices: list[Draft] = []
        self._in_flight = 0  # events taken from RAM into the transaction under way
        self._acks: list[int] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscribers: list[Callable[[list[Row], list[Draft]], None]] = []
        self._reserved = 0
        self._committed = 0  # the highest number known committed, in this database or a lost one
        self._skipped: dict[int, tuple[int, int, str]] = {}  # from_seq -> (from, to, reason): never issued
        self._skipped_unsaved: set[int] = set()  # from_seq of ranges the database does not hold yet
        self._opened = False
        self._marked = False
        self._dirty_counters = False
        self._boot_unsaved = False
        self._aside = False
        self._last_error: str | None = None
        # the failing spell: when it began, how many attempts failed, which errors were logged
        self._failing_since: float | None = None
        self._failures = 0
        self._disk_full = False
        self._logged: set[str] = set()
        self._ram_drops_in_spell = 0
        self._progress_at = monotonic()  # last commit, or when work arrived at an idle writer
        self._attempt_at = monotonic()  # last attempt that ended, committed or failed

    # ---- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Open (or create, or recover) the database and start a new boot.

        Raises floor.ClockUntrusted when the sequence can only continue from a clock that is wrong.
        """
        try:
            await self._open()
        except BaseException:
            await self._close_db()  # no connection thread left behind to keep the process alive
            raise

    async def _open(self) -> None:
        """The work of open()."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)) or ".", exist_ok=True)
        history = floor.has_history(self.path)
        state = self.sidecar.load()
        self.counters.merge(state.get("counters") if isinstance(state.get("counters"), dict) else {})
        self._reserved = _count(state.get("seq_reserved"))
        self._committed = _count(state.get("seq_committed"))
        for skip in _ranges(state.get("skipped")):
            self._remember_skip(*skip)
        await self._open_db()
        if self.last_seq == 0:
            await self._start_numbering(history=history or self.sidecar.unreadable)
        if self._committed or self._reserved:  # numbers were issued here (also by a release without the marker)
            try:
                floor.mark(self.path)
                self._marked = True
            except OSError:
                pass  # made before the next reservation instead, which cannot happen without it
        stored_boot = await self._meta("boot", "0")
        self.boot = max(_count(state.get("boot")), int(stored_boot) if stored_boot.isdigit() else 0) + 1
        try:
            await self._set_meta("boot", str(self.boot))
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            # a full disk is survived: the boot is written with the first transaction, before any
            # event carrying it is committed
            self._boot_unsaved = True
            log.error("outbox: the disk is full at start (%s); events wait in RAM until it has room",
                      _describe(exc))
        await self._refresh_usage()
        self._opened = True

    async def _open_db(self) -> None:
        """Connect and read the state; a corrupt file is set aside and a fresh one started."""
        try:
            await self._connect()
            await self._load_state()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                await self._close_db()
                raise
            await self._set_aside(exc)
            try:
                await self._connect()
                await self._load_state()
            except BaseException:
                await self._close_db()
                raise

    async def _start_numbering(self, *, history: bool) -> None:
        """On a database with no sequence yet, continue above every number that may have been issued."""
        if self._reserved > 0:
            reason = "database-corrupt" if self._aside else "database-missing"
            start, first_unknown = self._reserved, self._committed + 1
            log.warning("outbox %s has no sequence but the state file reserved up to %d; continuing at %d "
                        "(a sequence-gap event tells the backend)", self.path, self._reserved, start + 1)
        elif history or self._aside:
            now = self.clock()
            floor.check_clock(now, self.path)
            reason, start, first_unknown = "clock-floor", floor.clock_floor(now), 1
            log.warning("outbox %s and its state file are both lost; continuing above the clock's floor, at %d "
                        "(a sequence-gap event tells the backend)", self.path, start + 1)
        else:
            return  # a new outbox in a directory that never had one: numbering starts at 1
        self.last_seq = start
        if first_unknown > start:
            return
        self._remember_skip(first_unknown, start, reason)
        if self.notice_to is None:
            # nobody to tell: make the floor durable on its own
            await self._db_execute("INSERT OR REPLACE INTO sqlite_sequence(name, seq) VALUES('events', ?)",
                                   (start,))
            return
        subject, topic = self.notice_to(GAP_EVENT)
        # committed first, in the transaction that takes the first number after the gap: the skip
        # and its notice are durable together, or neither is (and are worked out again at the next start)
        self._notices.append(Draft(GAP_EVENT, subject, self.clock(),
                                   SequenceGapData(from_seq=first_unknown, to_seq=start, reason=reason), topic))
        self._idle.clear()
        self._wake.set()

    async def _connect(self) -> None:
        """Open the single connection with the durability settings."""
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.execute("PRAGMA journal_size_limit=67108864")
        await self._db.executescript(f"BEGIN;{SCHEMA}COMMIT;")  # atomic: readers never see half a schema

    async def _close_db(self) -> None:
        """Close the connection, whatever state it is in."""
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(Exception):
                await db.close()

    async def _load_state(self) -> None:
        """Read sequence, depth and counters from the database; fails on a corrupt file."""
        assert self._db
        async with self._db.execute("PRAGMA quick_check(1)") as cur:
            check = await cur.fetchone()
        if not check or check[0] != "ok":
            raise CorruptDatabase(f"quick_check: {check[0] if check else 'no answer'}")
        async with self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'") as cur:
            row = await cur.fetchone()
        self.last_seq = int(row[0]) if row else 0
        self._committed = max(self._committed, self.last_seq)
        async with self._db.execute("SELECT count(*), min(created) FROM events WHERE acked_at IS NULL") as cur:
            count, oldest = await cur.fetchone()  # type: ignore[misc]
        self.pending = int(count)
        self.oldest_pending_created = oldest
        async with self._db.execute("SELECT from_seq, to_seq, reason FROM skipped") as cur:
            held = await cur.fetchall()
        in_db = {int(first) for first, _, _ in held}
        for first, last, reason in held:
            self._remember_skip(int(first), int(last), str(reason))
        self._skipped_unsaved = set(self._skipped) - in_db  # known from the state file or RAM only
        async with self._db.execute("SELECT name, value FROM counters") as cur:
            stored = {name: value for name, value in await cur.fetchall()}
        self.counters.merge(stored)
        if merged_counters(stored) != self.counters.flat():
            self._dirty_counters = True  # the state file or RAM knew more than this database

    async def _set_aside(self, exc: BaseException) -> None:
        """Move a corrupt database (and its WAL) aside and count the recovery."""
        await self._close_db()
        salvaged_seq, salvaged_pending = await asyncio.to_thread(_salvage, self.path)
        if 0 < salvaged_seq <= self._reserved:  # a plausible figure sharpens where the skipped numbers begin
            self._committed = max(self._committed, salvaged_seq)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = f"{self.path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, target + suffix)
        log.error("outbox database %s is corrupt (%s); moved it to %s and started a fresh one. "
                  "Events not yet delivered from it are lost unless recovered by hand (sqlite3 .recover)",
                  self.path, exc, target)
        self._aside = True
        self.counters.recoveries += 1
        self.counters.dropped["corrupt"] = (self.counters.dropped.get("corrupt", 0)
                                            + max(self.pending, salvaged_pending))
        self.pending = 0
        self.oldest_pending_created = None
        self._dirty_counters = True
        self._boot_unsaved = True

    async def close(self) -> None:
        """Commit what is still in RAM (the writer task is stopped by now), count what cannot be, and close."""
        while self._db is not None and (self._notices or self._ram or self._acks):
            try:
                await self._write_once()
            except Exception as exc:
                log.error("outbox: cannot commit at shutdown (%s)", _describe(exc))
                break
        lost = self._ram.drain()
        for draft in lost:
            self._count_drop(f"shutdown:{draft.name}", 1)
        if lost:
            log.error("outbox: %d events in RAM could not be committed at shutdown; counted as dropped "
                      "(shutdown:TYPE)", len(lost))
        if self._db is not None and self._dirty_counters:
            with contextlib.suppress(Exception):
                await self._save_counters()
        if self._opened:
            try:
                self._save_state(self._reserved)  # the counters, even when the database cannot take them
            except OSError as exc:
                log.error("outbox: cannot save the state file at shutdown (%s); counters since the last save "
                          "are lost", exc)
        async with self._lock:
            await self._close_db()

    # ---- producers ---------------------------------------------------------------------
    def submit(self, name: str, subject: str, when: float, data: Any, topic: str) -> None:
        """Queue one event for the next transaction; never blocks the loop. At the RAM bound the drop
        policy decides what goes, counted as ram:{type}."""
        if self._idle.is_set():
            self._progress_at = self.monotonic()  # the stall clock starts when work arrives
        for dropped in self._ram.append(Draft(name, subject, when, data, topic)):
            self._ram_dropped(dropped)
        self._idle.clear()
        self._wake.set()

    def ack(self, seq: int) -> None:
        """Mark ``seq`` delivered (applied with the next transaction, or within ACK_DELAY_S)."""
        if self._idle.is_set():
            self._progress_at = self.monotonic()
        self._acks.append(seq)
        self._idle.clear()
        # An ack lost to a crash only costs a duplicate, so acks do not get an fsync of their own
        # each: they ride along with new events, or go in groups.
        if len(self._acks) >= ACK_BATCH:
            self._wake.set()
        elif len(self._acks) == 1:
            asyncio.get_running_loop().call_later(ACK_DELAY_S, self._wake.set)

    def subscribe(self, callback: Callable[[list[Row], list[Draft]], None]) -> Callable[[], None]:
        """Call ``callback(rows, drafts)`` after each commit; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    @property
    def queued(self) -> int:
        """Events in RAM, not yet committed (including those in the transaction under way)."""
        return len(self._ram) + self._in_flight + len(self._notices)

    @property
    def last_error(self) -> str | None:
        """The storage error of the last failed attempt (None once a transaction succeeds)."""
        return self._last_error

    def _has_work(self) -> bool:
        """Whether anything waits for a transaction."""
        return bool(self._notices or self._ram or self._acks)

    def _ram_dropped(self, draft: Draft) -> None:
        """Count one event the RAM bound pushed out; say so once per failing spell."""
        self._count_drop(f"ram:{draft.name}", 1)
        self._ram_drops_in_spell += 1
        if self._ram_drops_in_spell == 1:
            log.error("outbox: %d events wait in RAM, its bound (ram_queue_max); dropping by the drop policy "
                      "(%s first, then the oldest), each counted as ram:TYPE", self.ram_queue_max,
                      ", ".join(self.quota.drop_order) or "none")

    # ---- the writer --------------------------------------------------------------------
    async def run(self) -> None:
        """Commit queued events and acks in groups until cancelled; no error ends it."""
        delay = 0.0
        last_maintenance = self.monotonic()
        while True:
            during = "write"
            try:
                if not self._notices and not self._ram:
                    if not self._acks:
                        self._idle.set()
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                    # arrives as the event is set, and the writer then never stops
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(5.0):
                            await self._wake.wait()
                if await self._shielded(self._write_once()):
                    self._succeeded()
                self._attempt_at = self.monotonic()
                delay = 0.0
                if self.monotonic() - last_maintenance > MAINTAIN_EVERY_S:
                    last_maintenance = self.monotonic()
                    during = "maintenance"
                    await self._shielded(self.maintain())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = min(max(delay * 2, RETRY_MIN_S), RETRY_MAX_S)
                self._failed(exc, during)
                try:
                    await self._shielded(self._recover(exc))
                except asyncio.CancelledError:
                    raise
                except Exception as again:
                    self._failed(again, "recovery")
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

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        if self._idle.is_set():  # cleared by every submit and ack, set only by an idle writer
            return True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    async def _write_once(self) -> bool:
        """One transaction: the outbox's notices, up to batch_max new events and every pending ack.

        Returns False when there was nothing to do.
        """
        if not self._has_work():
            return False
        if self._db is None:
            raise DatabaseClosed("the outbox database is not open")
        notices = len(self._notices)
        # Taken out of the queue first, so RAM-overflow drops during the await cannot hit them.
        taken = self._ram.take(max(1, self.batch_max - notices))
        acks = self._acks[:]
        now = self.clock()
        encoded: set[int] | None = None
        self._in_flight = len(taken)
        try:
            rows, drafts, params = self._encode([*self._notices[:notices], *taken], self.last_seq + 1, now)
            encoded = {id(draft) for draft in drafts}
            acked = await self._transaction(params, acks, now)
        except BaseException:
            back = taken if encoded is None else [draft for draft in taken if id(draft) in encoded]
            for dropped in self._ram.put_back(back):
                self._ram_dropped(dropped)
            raise
        finally:
            self._in_flight = 0
        del self._notices[:notices]
        del self._acks[:len(acks)]
        self._after_commit(rows, acked, now)
        if rows:
            for callback in list(self._subscribers):
                try:
                    callback(rows, drafts)
                except Exception:
                    log.exception("outbox subscriber failed")
            await self._refresh_usage()
            if self.used_bytes > self.quota.max_bytes:
                await self.enforce_quota()
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
                                       subject=draft.subject, time=draft.time, seq=seq, gwboot=self.boot,
                                       data=draft.data)
            except Exception as exc:
                # retrying cannot help an event that will never encode: it would block every one after it
                self._count_drop(f"invalid:{draft.name}", 1)
                key = f"encode:{draft.name}:{type(exc).__name__}"
                if key not in self._logged:
                    self._logged.add(key)
                    log.error("outbox: a %s event cannot be encoded (%s); dropped, counted as invalid:%s",
                              draft.name, _describe(exc), draft.name)
                continue
            rows.append(Row(seq, draft.topic, payload))
            drafts.append(draft)
            params.append((seq, draft.name, draft.topic, now, payload))
        return rows, drafts, params

    async def _transaction(self, params: list[tuple], acks: list[int], now: float) -> int:
        """Insert the encoded rows and apply ``acks``, atomically and durably; returns rows acked."""
        if params and params[-1][0] > self._reserved:
            await self._reserve(params[-1][0])
        acked = 0
        async with self._lock:
            if self._db is None:
                raise DatabaseClosed("the outbox database is not open")
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                if params:
                    await self._db.executemany(
                        "INSERT INTO events(seq, type, topic, created, payload) VALUES (?,?,?,?,?)", params)
                for start in range(0, len(acks), 500):
                    chunk = acks[start:start + 500]
                    cur = await self._db.execute(
                        f"UPDATE events SET acked_at=? WHERE acked_at IS NULL AND seq IN "
                        f"({','.join('?' * len(chunk))})", (now, *chunk))
                    acked += cur.rowcount
                skips = [self._skipped[first] for first in self._skipped_unsaved if first in self._skipped]
                if skips:
                    await self._db.executemany(
                        "INSERT OR REPLACE INTO skipped(from_seq, to_seq, reason) VALUES (?, ?, ?)", skips)
                boot_written = self._boot_unsaved
                if boot_written:
                    await self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('boot', ?)",
                                           (str(self.boot),))
                counters_written = self._dirty_counters
                if counters_written:
                    await self._write_counters()
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db is not None and self._db.in_transaction:
                    with contextlib.suppress(Exception):
                        await self._db.execute("ROLLBACK")
                raise
        if boot_written:
            self._boot_unsaved = False
        if counters_written:
            self._dirty_counters = False
        self._skipped_unsaved -= {first for first, _, _ in skips}
        return acked

    def _after_commit(self, rows: list[Row], acked: int, now: float) -> None:
        """Update the in-memory figures once a transaction is durable."""
        if rows:
            self.last_seq = self._committed = rows[-1].seq
            if self.pending == 0:
                self.oldest_pending_created = now
            self.pending += len(rows)
        if acked:
            self.pending = max(0, self.pending - acked)
            self.oldest_pending_created = None  # recomputed lazily by oldest_pending_age()
        self._progress_at = self.monotonic()

    def _succeeded(self) -> None:
        """A transaction committed: end the failing spell, saying so once."""
        if self._failing_since is not None:
            log.warning("outbox: committing again after %d failed attempts in %.0f s; %d events wait in RAM, "
                        "%d were dropped from it meanwhile", self._failures, self.monotonic() - self._failing_since,
                        len(self._ram), self._ram_drops_in_spell)
            self._failing_since = None
            self._failures = 0
            self._disk_full = False
            self._logged.clear()
        if self._ram_drops_in_spell and len(self._ram) <= self.ram_queue_max // 2:
            log.warning("outbox: the RAM queue is back under half its bound; %d events were dropped from it",
                        self._ram_drops_in_spell)
            self._ram_drops_in_spell = 0
        self._last_error = None

    def _failed(self, exc: BaseException, during: str) -> None:
        """Count and report a failed attempt: a log line for each new error, not for every retry.

        ``during`` is write or maintenance (a failed attempt: counted in write_errors, shown in
        health, judged by the watchdog) or recovery or state file (what was tried about it: logged).
        """
        self._attempt_at = self.monotonic()
        text, full = _describe(exc), _is_full(exc)
        if during in ("write", "maintenance"):
            self.counters.write_errors += 1
            self._dirty_counters = True
            self._failures += 1
            if self._failing_since is None:
                self._failing_since = self.monotonic()
            self._last_error, self._disk_full = text, full
        key = f"{during}:{text}"
        if key in self._logged or len(self._logged) >= DISTINCT_ERRORS_LOGGED:
            return
        self._logged.add(key)
        waiting = self.queued
        if full:
            log.error("outbox: the disk is full (%s, during %s); %d events wait in RAM (at most %d) and the writer "
                      "retries until there is room", text, during, waiting, self.ram_queue_max)
        elif isinstance(exc, sqlite3.Error | OSError):
            log.error("outbox: %s failed (%s); %d events wait in RAM and it is retried with backoff",
                      during, text, waiting)
        else:
            log.error("outbox: %s failed unexpectedly (%s); %d events wait in RAM and it is retried with backoff",
                      during, text, waiting, exc_info=exc)

    async def _recover(self, exc: BaseException) -> None:
        """What can help before a failed attempt is retried; its own errors are the caller's to report."""
        if self._opened:
            try:
                self._save_state(self._reserved)  # counters reach the disk even when the database cannot
            except OSError as state_error:
                self._failed(state_error, "state file")
        if self._db is None or _is_corrupt(exc):
            await self._reopen(exc if _is_corrupt(exc) else None)
        elif self._disk_full:
            if await self.prune_acked(limit=None, older_than=None):
                await self._refresh_usage()
        elif self._failures % REOPEN_EVERY == 0:
            log.warning("outbox: %d failed attempts in a row; reopening the database", self._failures)
            await self._reopen(None)

    async def _reopen(self, corrupt: BaseException | None) -> None:
        """Reconnect (setting a corrupt file aside first); continue the sequence if the file is new."""
        numbered = self.last_seq
        self._aside = False
        async with self._lock:  # readers wait rather than meet a connection half set up
            if corrupt is not None:
                await self._set_aside(corrupt)
            else:
                await self._close_db()
            await self._open_db()
        if self.last_seq == 0 and numbered > 0:
            await self._start_numbering(history=True)
        self.last_seq = max(self.last_seq, numbered)  # never number below what was handed out
        self._boot_unsaved = True
        await self._refresh_usage()

    # ---- the watchdog's view -----------------------------------------------------------
    def stall(self, stall_s: float | None = None) -> str | None:
        """Why the writer counts as stuck (nothing committed for stall_s while events wait), or None.

        Retrying a full disk is not being stuck: attempts keep ending, RAM stays within its bound,
        and a restart would only lose what RAM holds. Being hung (no attempt ends) or failing any
        other way for that long is, and the watchdog then lets systemd restart the daemon.
        """
        limit = self.stall_s if stall_s is None else stall_s
        if not self._has_work() and not self._in_flight:
            return None
        now = self.monotonic()
        idle_for = now - self._progress_at
        if idle_for < limit:
            return None
        if self._disk_full and now - self._attempt_at < limit and len(self._ram) <= self.ram_queue_max:
            return None
        since_attempt = now - self._attempt_at
        doing = (f"the last attempt failed with {self._last_error}" if since_attempt < limit and self._last_error
                 else f"no attempt has ended for {since_attempt:.0f} s (hung)")
        return f"nothing committed for {idle_for:.0f} s with {self.queued} events waiting; {doing}"

    def writer_state(self) -> str:
        """ok, retrying (the last attempt failed) or stalled (see stall())."""
        if self.stall() is not None:
            return "stalled"
        return "retrying" if self._failing_since is not None else "ok"

    # ---- maintenance -------------------------------------------------------------------
    async def maintain(self) -> None:
        """Age-based pruning and quota enforcement; run every few tens of seconds."""
        floor.touch(self.path)
        now = self.clock()
        if self.quota.retain_acked_s >= 0:
            await self.prune_acked(limit=None, older_than=now - self.quota.retain_acked_s)
        if self.quota.max_pending_age_s > 0:
            await self._drop_pending("expired", now - self.quota.max_pending_age_s, None)
        await self._refresh_usage()
        if self.used_bytes > self.quota.max_bytes:
            await self.enforce_quota()

    async def prune_acked(self, *, limit: int | None, older_than: float | None) -> int:
        """Delete acked rows (oldest first); returns how many went."""
        where = "acked_at IS NOT NULL" + (" AND acked_at < ?" if older_than is not None else "")
        args: tuple[Any, ...] = (older_than,) if older_than is not None else ()
        sql = f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {where} ORDER BY seq LIMIT ?)"
        total = 0
        while True:
            chunk = 5000 if limit is None else min(5000, limit - total)
            if chunk <= 0:
                break
            async with self._lock:
                if self._db is None:
                    raise DatabaseClosed("the outbox database is not open")
                cur = await self._db.execute(sql, (*args, chunk))
                removed = cur.rowcount
            total += removed
            self._attempt_at = self.monotonic()
            if removed < chunk:
                break
        return total

    async def enforce_quota(self) -> None:
        """Bring the database under its quota: acked rows first, then the drop policy."""
        target = int(self.quota.max_bytes * 0.9)
        while self.used_bytes > target and await self.prune_acked(limit=2000, older_than=None):
            await self._refresh_usage()
        for kind in [*self.quota.drop_order, None]:
            while self.used_bytes > target:
                if not await self._drop_pending("quota", None, kind, limit=2000):
                    break
                await self._refresh_usage()
        if self.used_bytes > self.quota.max_bytes:
            log.error("outbox is over its quota (%d > %d bytes) with nothing left to drop",
                      self.used_bytes, self.quota.max_bytes)

    async def _drop_pending(self, reason: str, created_before: float | None, kind: str | None,
                            limit: int = 5000) -> int:
        """Delete undelivered rows, oldest first, counting each drop by reason and type."""
        conditions = ["acked_at IS NULL"]
        args: list[Any] = []
        if created_before is not None:
            conditions.append("created < ?")
            args.append(created_before)
        if kind is not None:
            conditions.append("type = ?")
            args.append(kind)
        where = " AND ".join(conditions)
        async with self._lock:
            if self._db is None:
                raise DatabaseClosed("the outbox database is not open")
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                async with self._db.execute(
                        f"SELECT type, count(*) FROM (SELECT type FROM events WHERE {where} ORDER BY seq "
                        f"LIMIT ?) GROUP BY type", (*args, limit)) as cur:
                    by_type = dict(await cur.fetchall())
                cur = await self._db.execute(
                    f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {where} ORDER BY seq LIMIT ?)",
                    (*args, limit))
                removed = cur.rowcount
                counted = self.counters.flat()
                for name, count in by_type.items():
                    key = f"dropped.{reason}:{name}"
                    counted[key] = counted.get(key, 0) + int(count)
                await self._write_counters(counted)
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db is not None and self._db.in_transaction:
                    with contextlib.suppress(Exception):
                        await self._db.execute("ROLLBACK")
                raise
        for name, count in by_type.items():  # counted in RAM only once the deletion is durable
            self.counters.dropped[f"{reason}:{name}"] = self.counters.dropped.get(f"{reason}:{name}", 0) + int(count)
        self._attempt_at = self.monotonic()
        if removed:
            self.pending = max(0, self.pending - removed)
            self.oldest_pending_created = None
            log.warning("outbox dropped %d undelivered events (%s%s)", removed, reason,
                        f", type {kind}" if kind else "")
        return removed

    def _count_drop(self, key: str, count: int) -> None:
        """Add to a drop counter; persisted with the next transaction (or the state file)."""
        self.counters.dropped[key] = self.counters.dropped.get(key, 0) + count
        self._dirty_counters = True

    async def _write_counters(self, values: dict[str, int] | None = None) -> None:
        """Persist the counters (inside the caller's transaction)."""
        assert self._db
        await self._db.executemany("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)",
                                   list((values or self.counters.flat()).items()))

    async def _save_counters(self) -> None:
        """Persist the counters in a transaction of their own."""
        async with self._lock:
            assert self._db
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._write_counters()
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(Exception):
                        await self._db.execute("ROLLBACK")
                raise
        self._dirty_counters = False

    async def _refresh_usage(self) -> None:
        """Bytes in use by the database: its pages that are not free."""
        async with self._lock:
            if self._db is None:
                raise DatabaseClosed("the outbox database is not open")
            async with self._db.execute(
                    "SELECT p.page_count, f.freelist_count, s.page_size "
                    "FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s") as cur:
                pages, free, size = await cur.fetchone()  # type: ignore[misc]
        self.used_bytes = (pages - free) * size

    async def _reserve(self, upto: int) -> None:
        """Record in the sidecar that sequence numbers up to ``upto`` (and more) may be used.

        Only once that is on disk may they be committed: a failed save raises and nothing is.
        """
        if upto <= self._reserved:
            return
        if not self._marked:
            floor.mark(self.path)
            self._marked = True
        reserved = upto + SEQ_RESERVE
        self._save_state(reserved)
        self._reserved = reserved

    def _save_state(self, reserved: int) -> None:
        """Write the sidecar: boot, reservation, the highest committed number and the counters."""
        self.sidecar.save({"boot": self.boot, "seq_reserved": max(reserved, self._reserved),
                           "seq_committed": self._committed, "counters": self.counters.flat(),
                           "skipped": [list(skip) for skip in self._skipped.values()]})

    def _remember_skip(self, first: int, last: int, reason: str) -> None:
        """Keep a range of numbers never issued (for replay answers), to be saved in the database too."""
        self._skipped[first] = (first, last, reason)
        self._skipped_unsaved.add(first)
        while len(self._skipped) > SKIPPED_KEPT:
            oldest = min(self._skipped)
            del self._skipped[oldest]
            self._skipped_unsaved.discard(oldest)

    def never_issued_ranges(self, from_seq: int, to_seq: int) -> list[tuple[int, int]]:
        """The parts of from_seq..to_seq that were skipped, never given to an event (sequence-gap events)."""
        found = []
        for first, last, _ in sorted(self._skipped.values()):
            lo, hi = max(first, from_seq), min(last, to_seq)
            if lo <= hi:
                found.append((lo, hi))
        return found

    # ---- readers -----------------------------------------------------------------------
    async def read_pending(self, after_seq: int, limit: int) -> list[Row]:
        """Undelivered rows with seq > after_seq, in order."""
        async with self._lock:
            if self._db is None:
                return []
            async with self._db.execute(
                    "SELECT seq, topic, payload FROM events WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit)) as cur:
                return [Row(*r) for r in await cur.fetchall()]

    async def read_range(self, from_seq: int, to_seq: int, limit: int) -> list[Row]:
        """Rows from_seq..to_seq still held (delivered or not), in order."""
        async with self._lock:
            if self._db is None:
                return []
            async with self._db.execute(
                    "SELECT seq, topic, payload FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                    (from_seq, to_seq, limit)) as cur:
                return [Row(*r) for r in await cur.fetchall()]

    async def oldest_pending_age(self) -> float | None:
        """Seconds since the oldest undelivered row was committed."""
        if self.pending == 0:
            return None
        if self.oldest_pending_created is None:
            async with self._lock:
                if self._db is None:
                    return None
                async with self._db.execute(
                        "SELECT created FROM events WHERE acked_at IS NULL ORDER BY seq LIMIT 1") as cur:
                    row = await cur.fetchone()
            self.oldest_pending_created = row[0] if row else None
        if self.oldest_pending_created is None:
            return None
        return max(0.0, self.clock() - self.oldest_pending_created)

    async def stats(self) -> dict[str, Any]:
        """The figures of `storegw outbox stats` and the health event."""
        # A transaction whose COMMIT is durable may not have updated the figures in memory yet; waiting
        # for the connection (bounded, the report must not hang on a stuck disk) keeps the two in step.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                async with self._lock:
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
            "last_error": self._last_error,
        }

    # ---- small helpers -----------------------------------------------------------------
    async def _db_execute(self, sql: str, args: Iterable[Any] = ()) -> None:
        """Run one statement under the connection lock."""
        async with self._lock:
            assert self._db
            await self._db.execute(sql, tuple(args))

    async def _meta(self, key: str, default: str) -> str:
        """Read one meta value."""
        async with self._lock:
            assert self._db
            async with self._db.execute("SELECT value FROM meta WHERE key=?", (key,)) as cur:
                row = await cur.fetchone()
        return row[0] if row else default

    async def _set_meta(self, key: str, value: str) -> None:
        """Write one meta value."""
        await self._db_execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
