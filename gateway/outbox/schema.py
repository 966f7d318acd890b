"""The outbox database's tables, settings and figures, and a read-only look at a file (`storegw outbox stats`).

The daemon and the CLI read the figures with the same statements: the daemon through its own
connection, the CLI through a read-only one that is safe beside the running daemon.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import Any

from gateway.outbox.counters import OutboxCounters
from gateway.outbox.sidecar import Sidecar

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

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL can lose the last commits on power loss and hand their sequence numbers out again
    "PRAGMA synchronous=FULL",
    "PRAGMA journal_size_limit=67108864",
)

LAST_SEQ = "SELECT seq FROM sqlite_sequence WHERE name='events'"
PENDING_COUNT = "SELECT count(*) FROM events WHERE acked_at IS NULL"
OLDEST_PENDING_CREATED = "SELECT created FROM events WHERE acked_at IS NULL ORDER BY seq LIMIT 1"
USED_BYTES = ("SELECT p.page_count, f.freelist_count, s.page_size "
              "FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s")
"""Bytes in use by the database: its pages that are not free (page count, free pages, page size)."""
COUNTERS = "SELECT name, value FROM counters"
SAVE_COUNTER = "INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)"
META = "SELECT value FROM meta WHERE key=?"
SAVE_META = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"


class FiguresUnreadable(Exception):
    """The database could not be opened or read; the message says which, in one sentence."""


def read_figures(path: str) -> dict[str, Any]:
    """The outbox figures of the file at ``path``, read-only (safe beside the daemon).

    Counters are the higher of the database's and the state file's: the daemon writes them to the
    state file too, so what it counted while the database could not be written is still shown.
    """
    state_counters = Sidecar(path + ".state.json").load().get("counters")
    figures = _read_database(path)
    counters = OutboxCounters()
    counters.merge(figures.pop("counters"))
    counters.merge(state_counters if isinstance(state_counters, dict) else {})
    figures["dropped"] = dict(sorted(counters.dropped.items()))
    figures["write_errors"] = counters.write_errors
    figures["recoveries"] = counters.recoveries
    return figures


def _read_database(path: str) -> dict[str, Any]:
    """The figures the database holds (its counters raw, under "counters")."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise FiguresUnreadable(f"cannot open {path}: {exc}") from None
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"events", "counters", "meta"} <= tables:  # the daemon is creating the file right now
            return {"path": path, "last_seq": 0, "pending": 0, "held": 0, "oldest_pending_age_s": None, "bytes": 0,
                    "file_bytes": os.path.getsize(path), "counters": {}, "boot": 0}
        row = db.execute(LAST_SEQ).fetchone() if "sqlite_sequence" in tables else None
        # one statement, so the count and the oldest row come from the same snapshot
        pending, oldest = db.execute(
            f"SELECT count(*), ({OLDEST_PENDING_CREATED}) FROM events WHERE acked_at IS NULL").fetchone()
        held = db.execute("SELECT count(*) FROM events").fetchone()[0]
        pages, free, size = db.execute(USED_BYTES).fetchone()
        counters = dict(db.execute(COUNTERS).fetchall())
        boot = db.execute(META, ("boot",)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise FiguresUnreadable(f"{path} is unreadable ({exc}); the daemon sets a corrupt file aside at its next "
                                "start") from None
    finally:
        db.close()
    return {
        "path": path,
        "last_seq": int(row[0]) if row else 0,
        "pending": int(pending),
        "held": int(held),
        "oldest_pending_age_s": None if oldest is None else round(max(0.0, time.time() - oldest), 3),
        "bytes": (pages - free) * size,
        "file_bytes": os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0),
        "counters": counters,
        "boot": int(boot[0]) if boot else 0,
    }


def salvage(path: str) -> tuple[int, int]:
    """Best effort on a corrupt database: its last sequence number and undelivered rows (0 when unreadable)."""
    last = pending = 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0, 0
    try:
        with contextlib.suppress(sqlite3.Error, TypeError, ValueError):
            row = db.execute(LAST_SEQ).fetchone()
            last = int(row[0]) if row else 0
        with contextlib.suppress(sqlite3.Error, TypeError, ValueError):
            pending = int(db.execute(PENDING_COUNT).fetchone()[0])
    finally:
        db.close()
    return max(0, last), max(0, pending)
