"""What a backend does with storegw's stream: de-duplicate on `id`, find gaps in `sequence`, ask for replays.

Used by `storegw verify` (technicians and backend teams checking a gateway end to end) and
written to be read as the reference for consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def ranges(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as [first, last] runs."""
    out: list[list[int]] = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


@dataclass
class StreamCheck:
    """Per-gateway bookkeeping of a consumer."""

    seen_ids: set[str] = field(default_factory=set)
    sequences: set[int] = field(default_factory=set)
    events: int = 0
    duplicates: int = 0
    boots: set[int] = field(default_factory=set)
    types: dict[str, int] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> bool:
        """Take one event; False when it is a duplicate (same id seen before)."""
        self.events += 1
        if event["id"] in self.seen_ids:
            self.duplicates += 1
            return False
        self.seen_ids.add(event["id"])
        self.sequences.add(int(event["sequence"]))
        self.boots.add(int(event["gwboot"]))
        name = str(event["type"]).removeprefix("storegw.").removesuffix(".v1")
        self.types[name] = self.types.get(name, 0) + 1
        return True

    def gaps(self, since: int | None = None) -> list[list[int]]:
        """Missing sequence numbers between the lowest (or ``since``) and the highest seen."""
        if not self.sequences:
            return []
        low = min(self.sequences) if since is None else since
        missing = [n for n in range(low, max(self.sequences) + 1) if n not in self.sequences]
        return ranges(missing)
