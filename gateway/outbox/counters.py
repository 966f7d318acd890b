"""What the outbox has had to give up or survive: counters that only grow, kept in the database and the state file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def merged_counters(*sources: dict[str, Any] | None) -> dict[str, int]:
    """Counters from several places (database, state file), each the highest seen: they only grow."""
    merged: dict[str, int] = {}
    for source in sources:
        for name, value in (source or {}).items():
            if isinstance(name, str) and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                merged[name] = max(merged.get(name, 0), value)
    return merged


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

    def add_dropped(self, key: str, count: int) -> None:
        """Count ``count`` more events dropped as ``key`` ({reason}:{type})."""
        self.dropped[key] = self.dropped.get(key, 0) + count
