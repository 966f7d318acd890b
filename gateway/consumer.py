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


@dataclass
class ReplayWait:
    """What a consumer still waits for after asking ``cmd/replay`` for some ranges.

    A requested number stops being waited for when its event arrives, when the gateway's answer
    lists it as ``missing`` (it will not come), or when the answer refuses the request
    (``ok: false``). Progress is a requested number arriving or a new answer: a consumer should
    keep waiting while there is progress, however long the replay takes, and give up only after
    a stretch with none. Live events do not count as progress.
    """

    requested: dict[str, list[int]] = field(default_factory=dict)
    """request_id -> [from_seq, to_seq]."""
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """request_id -> the answers received for it (a gateway may answer a long replay in parts)."""

    def ask(self, request_id: str, first: int, last: int) -> None:
        """Note a request sent."""
        self.requested[request_id] = [first, last]

    def answer(self, payload: Any) -> bool:
        """Take a `cmd-res/replay` payload; False when it answers none of our requests."""
        if not isinstance(payload, dict):
            return False
        request_id = payload.get("request_id")
        if not isinstance(request_id, str) or request_id not in self.requested:
            return False
        self.answers.setdefault(request_id, []).append(payload)
        return True

    def _not_coming(self, request_id: str) -> set[int] | None:
        """Requested numbers the answers say will not be sent; None when the request was refused outright."""
        first, last = self.requested[request_id]
        numbers: set[int] = set()
        for answer in self.answers.get(request_id, []):
            if answer.get("ok") is False:
                return None
            missing = answer.get("missing")
            for span in missing if isinstance(missing, list) else []:
                try:
                    low, high = max(first, int(span[0])), min(last, int(span[1]))
                except (TypeError, ValueError, IndexError, KeyError):
                    continue
                numbers.update(range(low, high + 1))  # clipped to the request: an answer cannot make us allocate
        return numbers

    def status(self, received: set[int]) -> tuple[list[list[int]], tuple[int, int]]:
        """(ranges still awaited, a progress marker that changes whenever the replay moves on)."""
        waiting: set[int] = set()
        arrived = 0
        for request_id, (first, last) in self.requested.items():
            not_coming = self._not_coming(request_id)
            for n in range(first, last + 1):
                if n in received:
                    arrived += 1
                elif not_coming is not None and n not in not_coming:
                    waiting.add(n)
        return ranges(sorted(waiting)), (arrived, sum(len(a) for a in self.answers.values()))
