"""A tiny state file beside the database that outlives it: boot counter and reserved sequence."""

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

    def load(self) -> dict[str, Any]:
        """The saved state, or {} when there is none or it is unreadable."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                value = json.load(handle)
            return value if isinstance(value, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("outbox state file %s is unreadable (%s); starting from the database alone", self.path, exc)
            return {}

    def save(self, state: dict[str, Any]) -> None:
        """Durably replace the state."""
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        folder = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
