"""A tiny state file beside the database that outlives it: boot counter, reserved sequence, counters.

It is written on its own (not through SQLite), so what it holds survives a corrupt database and
can still be written when the database cannot (`storegw outbox stats` reads both).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from typing import Any

log = logging.getLogger("storegw.outbox")
BLOCK = 4096
"""The file is padded with spaces to whole blocks, one spare: a later state can overwrite it in place."""


class Sidecar:
    """Atomically replaced JSON file (write, fsync, rename, fsync the folder), overwritten in place on a full disk."""

    def __init__(self, path: str) -> None:
        """The state file at ``path`` (nothing is read yet)."""
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
        """Durably replace the state; on a full disk, overwrite the file's own blocks instead (raises OSError)."""
        data = json.dumps(state, sort_keys=True).encode("ascii")
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data + b" " * ((len(data) // BLOCK + 2) * BLOCK - len(data)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)  # a half-written copy only takes room a full disk does not have
            except OSError:
                pass
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not self._overwrite(data):
                raise
            return
        folder = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _overwrite(self, data: bytes) -> bool:
        """Write ``data`` over the file in place, within the blocks it has (no room needed); False if too big.

        Not atomic like a rename: a power cut in the middle can leave it unreadable, which only
        costs what a lost state file costs (the database and the marker still tell the sequence).
        """
        try:
            with open(self.path, "r+b") as handle:
                size = os.fstat(handle.fileno()).st_size
                if len(data) > size:
                    return False
                handle.write(data + b" " * (size - len(data)))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            return False
        return True

