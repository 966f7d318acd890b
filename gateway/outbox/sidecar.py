"""A tiny state file beside the database that outlives it: boot counter, reserved sequence, counters.

It is written on its own (not through SQLite), so what it holds survives a corrupt database and
can still be written when the database cannot (`storegw outbox stats` reads both).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

log = logging.getLogger("storegw.outbox")


class Sidecar:
    """Atomically replaced JSON file (write, fsync, rename, fsync the folder)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.unreadable = False
        """True when the last load found a file that is not a JSON object."""

    def load(self) -> dict[str, Any]:
        """The saved state, or {} when there is none or it is unreadable."""
        self.unreadable = False
        try:
            with open(self.path, encoding="utf-8") as handle:
                value = json.load(handle)
            if isinstance(value, dict):
                return value
            raise ValueError("not a JSON object")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.unreadable = True
            log.error("outbox state file %s is unreadable (%s); starting from the database alone", self.path, exc)
            return {}

    def save(self, state: dict[str, Any]) -> None:
        """Durably replace the state (raises OSError, e.g. ENOSPC, leaving the old file intact)."""
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(state, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.unlink(tmp)  # a half-written copy only takes room a full disk does not have
            except OSError:
                pass
            raise
        folder = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def merged_counters(*sources: dict[str, Any] | None) -> dict[str, int]:
    """Counters from several places (database, state file), each the highest seen: they only grow."""
    merged: dict[str, int] = {}
    for source in sources:
        for name, value in (source or {}).items():
            if isinstance(name, str) and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                merged[name] = max(merged.get(name, 0), value)
    return merged
