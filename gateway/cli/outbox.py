"""`storegw outbox stats --config FILE [--json]`: works whether the daemon runs or not."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from typing import Any

from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
from gateway.cli.errors import CliError
from gateway.outbox.sidecar import Sidecar, merged_counters


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `outbox` verbs."""
    parser = subparsers.add_parser("outbox", help="inspect the durable outbox")
    verbs = parser.add_subparsers(dest="outbox_verb", metavar="VERB", required=True)
    stats = verbs.add_parser("stats", help="last_seq, pending, oldest pending age, bytes, drops")
    stats.add_argument("--config", default=DEFAULT_CONFIG)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=show_stats)


def read_stats(path: str) -> dict[str, Any]:
    """Read the outbox figures straight from the file, read-only (safe beside the daemon).

    Counters are the higher of the database's and the state file's: the daemon writes them to the
    state file too, so what it counted while the database could not be written is still shown.
    """
    if not os.path.exists(path):
        raise CliError(f"no outbox at {path} yet: the daemon has not run with this data_dir", 1)
    state = Sidecar(path + ".state.json")
    state_counters = state.load().get("counters")
    stats = _read_database(path)
    counters = merged_counters(stats.pop("counters"), state_counters if isinstance(state_counters, dict) else None)
    stats["dropped"] = {k.removeprefix("dropped."): v for k, v in sorted(counters.items()) if k.startswith("dropped.")}
    stats["write_errors"] = counters.get("write_errors", 0)
    stats["recoveries"] = counters.get("recoveries", 0)
    return stats


def _read_database(path: str) -> dict[str, Any]:
    """The figures the database holds (its counters raw, under "counters")."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise CliError(f"cannot open {path}: {exc}", 1) from None
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"events", "counters", "meta"} <= tables:  # the daemon is creating the file right now
            return {"path": path, "last_seq": 0, "pending": 0, "held": 0, "oldest_pending_age_s": None, "bytes": 0,
                    "file_bytes": os.path.getsize(path), "counters": {}, "boot": 0}
        row = (db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
               if "sqlite_sequence" in tables else None)
        pending, oldest = db.execute(
            "SELECT count(*), (SELECT created FROM events WHERE acked_at IS NULL ORDER BY seq LIMIT 1) "
            "FROM events WHERE acked_at IS NULL").fetchone()
        held = db.execute("SELECT count(*) FROM events").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        boot = db.execute("SELECT value FROM meta WHERE key='boot'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise CliError(f"{path} is unreadable ({exc}); the daemon sets a corrupt file aside at its next start", 1) \
            from None
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


def show_stats(args: argparse.Namespace) -> int:
    """Print outbox figures."""
    from gateway.app import quota_policy
    from gateway.config.paths import outbox_path

    config = load_or_exit(args.config)
    stats = read_stats(outbox_path(config))
    stats["max_bytes"] = quota_policy(config).max_bytes
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    age = stats["oldest_pending_age_s"]
    print(f"outbox        {stats['path']}\n"
          f"last_seq      {stats['last_seq']}\n"
          f"pending       {stats['pending']}  (oldest {'-' if age is None else f'{age:.1f} s'} ago)\n"
          f"held          {stats['held']} rows (delivered ones kept for cmd/replay)\n"
          f"bytes         {stats['bytes']:,} of {stats['max_bytes']:,} allowed\n"
          f"dropped       {json.dumps(stats['dropped']) if stats['dropped'] else 'none'}\n"
          f"write errors  {stats['write_errors']}   recoveries {stats['recoveries']}   boot {stats['boot']}")
    return 0
