"""The durable outbox: every event is committed here before anything else happens to it.

One aiosqlite connection does everything (two writers fail with SQLITE_BUSY_SNAPSHOT), in
WAL mode with ``synchronous=FULL`` (NORMAL can lose the last commits on power loss and hand
their sequence numbers out again). Events are grouped into transactions of up to
``batch_max`` rows; PUBACKs are applied in the same transactions. The sequence is the
``INTEGER PRIMARY KEY AUTOINCREMENT`` of the row, so it is never reused, and a reservation
kept in a sidecar file lets it continue past a corrupt database that had to be set aside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiosqlite

from gateway.events.envelope import encode_event
from gateway.events.uuid7 import uuid7
from gateway.outbox.quota import QuotaPolicy
from gateway.outbox.sidecar import Sidecar

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
"""

# Sequence numbers reserved ahead in the sidecar; a corrupt database costs at most this gap.
SEQ_RESERVE = 100_000
ACK_BATCH = 500
ACK_DELAY_S = 0.25
CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
FULL_CODES = {"SQLITE_FULL"}


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


class Outbox:
    """Durable, sequenced store of events between the pipelines and the publisher."""

    def __init__(self, path: str, *, source: str, quota: QuotaPolicy, batch_max: int = 1000,
                 ram_queue_max: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.source = source
        self.quota = quota
        self.batch_max = batch_max
        self.ram_queue_max = ram_queue_max
        self.clock = clock
        self.sidecar = Sidecar(path + ".state.json")
        self.boot = 0
        self.last_seq = 0
        self.pending = 0
        self.used_bytes = 0
        self.counters = OutboxCounters()
        self.oldest_pending_created: float | None = None
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._queue: deque[Draft] = deque()
        self._acks: list[int] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscribers: list[Callable[[list[Row], list[Draft]], None]] = []
        self._reserved = 0
        self._dirty_counters = False
        self._last_error: str | None = None

    # ---- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Open (or create, or recover) the database and start a new boot."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)) or ".", exist_ok=True)
        state = self.sidecar.load()
        try:
            await self._connect()
            await self._load_state()
        except sqlite3.DatabaseError as exc:
            await self._set_aside(exc)
            await self._connect()
            await self._load_state()
        self._reserved = int(state.get("seq_reserved", 0))
        await self._continue_sequence()
        self.boot = max(int(state.get("boot", 0)), int(await self._meta("boot", "0"))) + 1
        await self._set_meta("boot", str(self.boot))
        await self._reserve(self.last_seq)
        await self._refresh_usage()

    async def _continue_sequence(self) -> None:
        """On a fresh file after a corrupt or deleted one, continue past every number handed out."""
        if self.last_seq > 0 or self._reserved == 0:
            return
        log.warning("outbox %s is new but sequence numbers up to %d may have been used before; "
                    "continuing at %d (the backend will see the gap)", self.path, self._reserved,
                    self._reserved + 1)
        self.last_seq = self._reserved
        await self._db_execute("INSERT OR REPLACE INTO sqlite_sequence(name, seq) VALUES('events', ?)",
                               (self.last_seq,))

    async def _connect(self) -> None:
        """Open the single connection with the durability settings."""
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.execute("PRAGMA journal_size_limit=67108864")
        await self._db.executescript(f"BEGIN;{SCHEMA}COMMIT;")  # atomic: readers never see half a schema

    async def _load_state(self) -> None:
        """Read sequence, depth and counters from the database; fails on a corrupt file."""
        assert self._db
        async with self._db.execute("PRAGMA quick_check(1)") as cur:
            check = await cur.fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check[0] if check else 'no answer'}")
        async with self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'") as cur:
            row = await cur.fetchone()
        self.last_seq = int(row[0]) if row else 0
        async with self._db.execute("SELECT count(*), min(created) FROM events WHERE acked_at IS NULL") as cur:
            count, oldest = await cur.fetchone()  # type: ignore[misc]
        self.pending = int(count)
        self.oldest_pending_created = oldest
        async with self._db.execute("SELECT name, value FROM counters") as cur:
            for name, value in await cur.fetchall():
                if name == "write_errors":
                    self.counters.write_errors = int(value)
                elif name == "recoveries":
                    self.counters.recoveries = int(value)
                elif name.startswith("dropped."):
                    self.counters.dropped[name.removeprefix("dropped.")] = int(value)

    async def _set_aside(self, exc: BaseException) -> None:
        """Move a corrupt database (and its WAL) aside and count the recovery."""
        if self._db is not None:
            with contextlib.suppress(Exception):
                await self._db.close()
            self._db = None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = f"{self.path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, target + suffix)
        log.error("outbox database %s is corrupt (%s); moved it to %s and started a fresh one. "
                  "Events not yet delivered from it are lost unless recovered by hand (sqlite3 .recover)",
                  self.path, exc, target)
        self.counters.recoveries += 1
        self.counters.dropped["corrupt"] = self.counters.dropped.get("corrupt", 0) + self.pending
        self.pending = 0
        self.oldest_pending_created = None
        self._dirty_counters = True

    async def close(self) -> None:
        """Commit everything still in RAM (the writer task is stopped by now) and close."""
        if self._db is None:
            return
        while self._queue or self._acks:
            try:
                await self._write_once()
            except Exception as exc:
                log.error("outbox: %d events could not be committed at shutdown (%s)", len(self._queue), exc)
                break
        async with self._lock:
            await self._db.close()
            self._db = None

    # ---- producers ---------------------------------------------------------------------
    def submit(self, name: str, subject: str, when: float, data: Any, topic: str) -> None:
        """Queue one event for the next transaction; never blocks the loop."""
        if len(self._queue) >= self.ram_queue_max:
            dropped = self._queue.popleft()
            self._count_drop(f"ram:{dropped.name}", 1)
        self._queue.append(Draft(name, subject, when, data, topic))
        self._idle.clear()
        self._wake.set()

    def ack(self, seq: int) -> None:
        """Mark ``seq`` delivered (applied with the next transaction, or within ACK_DELAY_S)."""
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
        """Events in RAM, not yet committed."""
        return len(self._queue)

    @property
    def last_error(self) -> str | None:
        """The latest storage error, for health and doctor."""
        return self._last_error

    # ---- the writer --------------------------------------------------------------------
    async def run(self) -> None:
        """Commit queued events and acks in groups until cancelled."""
        delay = 0.0
        last_maintenance = time.monotonic()
        while True:
            if not self._queue:
                if not self._acks:
                    self._idle.set()
                self._wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # arrives as the event is set, and the writer then never stops
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5.0):
                        await self._wake.wait()
            try:
                # Shielded: a cancel lands between transactions, never inside one, so RAM and
                # disk always agree about which events were committed.
                job = asyncio.ensure_future(self._write_once())
                try:
                    await asyncio.shield(job)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await job
                    raise
                delay = 0.0
                if time.monotonic() - last_maintenance > 30:
                    last_maintenance = time.monotonic()
                    await self.maintain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = min(max(delay * 2, 0.2), 10.0)
                await self._on_write_error(exc)
                await asyncio.sleep(delay)

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

    async def _write_once(self) -> None:
        """One transaction: up to batch_max new events and every pending ack."""
        if not self._queue and not self._acks:
            return
        # Taken out of the queue first, so RAM-overflow drops during the await cannot hit them.
        batch = [self._queue.popleft() for _ in range(min(self.batch_max, len(self._queue)))]
        acks = self._acks[:]
        now = self.clock()
        first = self.last_seq + 1
        try:
            rows, acked = await self._transaction(batch, acks, first, now)
        except BaseException:
            self._queue.extendleft(reversed(batch))
            raise
        del self._acks[:len(acks)]
        self._after_commit(rows, batch, acked, now)
        if rows:
            for callback in list(self._subscribers):
                try:
                    callback(rows, batch)
                except Exception:
                    log.exception("outbox subscriber failed")
            await self._refresh_usage()
            if self.used_bytes > self.quota.max_bytes:
                await self.enforce_quota()

    async def _transaction(self, batch: list[Draft], acks: list[int], first: int,
                           now: float) -> tuple[list[Row], int]:
        """Insert ``batch`` as seq first.. and apply ``acks``, atomically and durably."""
        if batch and first + len(batch) - 1 > self._reserved:
            await self._reserve(first + len(batch) - 1)
        rows: list[Row] = []
        params = []
        for offset, draft in enumerate(batch):
            seq = first + offset
            payload = encode_event(event_id=str(uuid7()), source=self.source, name=draft.name,
                                   subject=draft.subject, time=draft.time, seq=seq, gwboot=self.boot,
                                   data=draft.data)
            rows.append(Row(seq, draft.topic, payload))
            params.append((seq, draft.name, draft.topic, now, payload))
        acked = 0
        async with self._lock:
            assert self._db
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
                if self._dirty_counters:
                    await self._write_counters()
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise
        return rows, acked

    def _after_commit(self, rows: list[Row], batch: list[Draft], acked: int, now: float) -> None:
        """Update the in-memory figures once a transaction is durable."""
        if rows:
            self.last_seq = rows[-1].seq
            if self.pending == 0:
                self.oldest_pending_created = now
            self.pending += len(rows)
        if acked:
            self.pending = max(0, self.pending - acked)
            if self.pending == 0:
                self.oldest_pending_created = None
            else:
                self.oldest_pending_created = None  # recomputed lazily by oldest_pending_age()
        self._last_error = None

    async def _on_write_error(self, exc: BaseException) -> None:
        """Survive a failed transaction: recover a corrupt file, make room on a full disk."""
        code = _errorname(exc)
        self.counters.write_errors += 1
        self._dirty_counters = True
        self._last_error = f"{code or type(exc).__name__}: {exc}"
        if code in CORRUPT_CODES:
            await self._set_aside(exc)
            await self._connect()
            await self._load_state()
            await self._continue_sequence()
            await self._set_meta("boot", str(self.boot))
        elif code in FULL_CODES:
            log.error("outbox: the disk is full; %d events wait in RAM. Freeing acked rows", len(self._queue))
            await self.prune_acked(limit=None, older_than=None)
        else:
            log.error("outbox: write failed (%s); %d events wait in RAM and will be retried",
                      self._last_error, len(self._queue))

    # ---- maintenance -------------------------------------------------------------------
    async def maintain(self) -> None:
        """Age-based pruning and quota enforcement; run every few tens of seconds."""
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
                assert self._db
                cur = await self._db.execute(sql, (*args, chunk))
                removed = cur.rowcount
            total += removed
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
            assert self._db
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
                for name, count in by_type.items():
                    self._count_drop(f"{reason}:{name}", int(count))
                await self._write_counters()
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise
        if removed:
            self.pending = max(0, self.pending - removed)
            self.oldest_pending_created = None
            log.warning("outbox dropped %d undelivered events (%s%s)", removed, reason,
                        f", type {kind}" if kind else "")
        return removed

    def _count_drop(self, key: str, count: int) -> None:
        """Add to a drop counter; persisted with the next transaction."""
        self.counters.dropped[key] = self.counters.dropped.get(key, 0) + count
        self._dirty_counters = True

    async def _write_counters(self) -> None:
        """Persist the counters (inside the caller's transaction)."""
        assert self._db
        values = [("write_errors", self.counters.write_errors), ("recoveries", self.counters.recoveries)]
        values += [(f"dropped.{k}", v) for k, v in self.counters.dropped.items()]
        await self._db.executemany("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)", values)
        self._dirty_counters = False

    async def _refresh_usage(self) -> None:
        """Bytes in use by the database: its pages that are not free."""
        async with self._lock:
            assert self._db
            async with self._db.execute(
                    "SELECT p.page_count, f.freelist_count, s.page_size "
                    "FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s") as cur:
                pages, free, size = await cur.fetchone()  # type: ignore[misc]
        self.used_bytes = (pages - free) * size

    async def _reserve(self, upto: int) -> None:
        """Record in the sidecar that sequence numbers up to ``upto`` (and more) may be used."""
        if upto <= self._reserved:
            return
        self._reserved = upto + SEQ_RESERVE
        self.sidecar.save({"boot": self.boot, "seq_reserved": self._reserved})

    # ---- readers -----------------------------------------------------------------------
    async def read_pending(self, after_seq: int, limit: int) -> list[Row]:
        """Undelivered rows with seq > after_seq, in order."""
        async with self._lock:
            assert self._db
            async with self._db.execute(
                    "SELECT seq, topic, payload FROM events WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit)) as cur:
                return [Row(*r) for r in await cur.fetchall()]

    async def read_range(self, from_seq: int, to_seq: int, limit: int) -> list[Row]:
        """Rows from_seq..to_seq still held (delivered or not), in order."""
        async with self._lock:
            assert self._db
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
                assert self._db
                async with self._db.execute(
                        "SELECT created FROM events WHERE acked_at IS NULL ORDER BY seq LIMIT 1") as cur:
                    row = await cur.fetchone()
            self.oldest_pending_created = row[0] if row else None
        if self.oldest_pending_created is None:
            return None
        return max(0.0, self.clock() - self.oldest_pending_created)

    async def stats(self) -> dict[str, Any]:
        """The figures of `storegw outbox stats` and the health event."""
        age = await self.oldest_pending_age()
        return {
            "last_seq": self.last_seq,
            "pending": self.pending,
            "queued_in_ram": len(self._queue),
            "oldest_pending_age_s": None if age is None else round(age, 3),
            "bytes": self.used_bytes,
            "max_bytes": self.quota.max_bytes,
            "dropped": dict(self.counters.dropped),
            "write_errors": self.counters.write_errors,
            "recoveries": self.counters.recoveries,
            "boot": self.boot,
            "last_error": self._last_error,
        }

    # ---- small helpers -----------------------------------------------------------------
    async def _db_execute(self, sql: str, args: Iterable[Any] = ()) -> None:
        """Run one statement under the connection lock."""
        async with self._lock:
            assert self._db
            await self._db.execute(sql, tuple(args))

    async def _commit(self) -> None:
        """Commit if a transaction is open (autocommit mode otherwise)."""
        async with self._lock:
            assert self._db
            if self._db.in_transaction:
                await self._db.execute("COMMIT")

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
