"""What a backend does with storegw's stream: de-duplicate on `id`, find gaps in `sequence`, ask for replays.

Used by `storegw verify` (technicians and backend teams checking a gateway end to end) and
written to be read as the reference for consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.events.ranges import RangeSet, gaps

SEQUENCE_GAP_TYPE = "storegw.sequence-gap.v1"
"""The gateway's durable notice that a range of numbers will never be published."""
MAX_REPLAY_SPAN = 100_000
"""The most numbers one `cmd/replay` request may ask for; larger gaps are asked in parts."""


def subtract(spans: list[list[int]], removed: list[list[int]]) -> list[list[int]]:
    """``spans`` (sorted, disjoint, not touching [first, last]) without every number in ``removed``."""
    rest = RangeSet((first, last) for first, last in spans)
    for low, high in removed:
        rest.remove(low, high)
    return [[first, last] for first, last in rest]


def split_span(first: int, last: int, most: int = MAX_REPLAY_SPAN) -> list[list[int]]:
    """[first, last] cut into requests of at most ``most`` numbers."""
    return [[low, min(last, low + most - 1)] for low in range(first, last + 1, most)]


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
    never_issued: list[list[int]] = field(default_factory=list)
    """Ranges the gateway declared it will never publish (its `sequence-gap` events): not gaps."""

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
        if event["type"] == SEQUENCE_GAP_TYPE:
            data = event.get("data") or {}
            self.never_issued.append([int(data["from_seq"]), int(data["to_seq"])])
        return True

    def gaps(self, since: int | None = None) -> list[list[int]]:
        """Missing sequence numbers between the lowest (or ``since``) and the highest seen, less those never issued.

        Worked out from the holes between the numbers seen, so a jump of 10^12 (the gateway's
        clock floor after it lost its files) costs nothing.
        """
        if not self.sequences:
            return []
        ordered = sorted(self.sequences)
        low = ordered[0] if since is None else since
        holes = [[first, last] for first, last in gaps(ordered, low, ordered[-1])]
        return subtract(holes, self.never_issued)


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
            for key in ("missing", "pruned", "never_issued"):
                for low, high in self.spans_in(answer, key, first, last):
                    numbers.update(range(low, high + 1))  # clipped to the request: an answer cannot make us allocate
        return numbers

    @staticmethod
    def spans_in(answer: dict[str, Any], key: str, first: int, last: int) -> list[tuple[int, int]]:
        """The [low, high] ranges an answer lists under ``key``, clipped to [first, last]; junk is skipped."""
        spans = answer.get(key)
        out = []
        for span in spans if isinstance(spans, list) else []:
            try:
                low, high = max(first, int(span[0])), min(last, int(span[1]))
            except (TypeError, ValueError, IndexError, KeyError, OverflowError):
                continue
            if low <= high:
                out.append((low, high))
        return out

    def declared(self, key: str) -> list[list[int]]:
        """Every range the answers listed under ``key`` ("pruned": lost; "never_issued": not a loss)."""
        found = []
        for request_id, answers in self.answers.items():
            first, last = self.requested[request_id]
            for answer in answers:
                found += [[low, high] for low, high in self.spans_in(answer, key, first, last)]
        return sorted(found)

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
