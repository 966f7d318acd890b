"""A RAM outbox for one simulated gateway: the real envelope and numbering, no SQLite file.

It offers the part of `gateway.outbox.Outbox` the publisher, the replay queue and the command handler
use (submit, ack, subscribe, read_pending, read_range, last_seq, boot, never_issued_ranges), so a
simulated gateway is published by the daemon's own `Publisher` and answers `cmd/replay` through the
daemon's own `CommandHandler`. Why not the SQLite outbox: one aiosqlite connection is one thread, and a
thousand of them next to a thousand paho clients is what the simulator must avoid (see
`gateway/fleet/__init__.py`); durability across a crash is the one thing a load generator need not prove.

Numbers are given at submit time, one after the other, and never given twice in a process: a reconnect
resends unacked rows with their own numbers. The last ``keep`` rows are held for replays; an older
number is answered as pruned, as the daemon answers a number its retention deleted. A row that falls
out of the history before its PUBACK is counted as dropped (the daemon's quota does the same).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gateway.events.envelope import encode_event
from gateway.events.uuid7 import uuid7
from gateway.outbox.rows import Draft, Row

Subscriber = Callable[[list[Row], list[Draft]], None]


class MemoryOutbox:
    """Numbered, encoded events of one gateway, held in RAM until acked and for replays."""

    def __init__(self, source: str, boot: int, *, keep: int = 10_000, first_seq: int = 1) -> None:
        """Events of CloudEvents ``source`` in boot ``boot``, numbered from ``first_seq``; ``keep`` rows held."""
        self.source = source
        self.boot = boot
        self.keep = keep
        self.first_seq = first_seq
        self.last_seq = first_seq - 1
        self.history: deque[Row] = deque()
        """The last ``keep`` rows, contiguous: history[i].seq == history[0].seq + i."""
        self.unacked: dict[int, Row] = {}
        """Rows not acknowledged yet, in sequence order (dicts keep insertion order)."""
        self.acked = 0
        self.dropped = 0
        self._subscribers: list[Subscriber] = []

    # ---- producers ---------------------------------------------------------------------
    def submit(self, name: str, subject: str, when: float, data: Any, topic: str) -> Row:
        """Number and encode one event now, hold it, and hand it to the subscribers (the publisher)."""
        seq = self.last_seq + 1
        payload = encode_event(event_id=str(uuid7()), source=self.source, name=name, subject=subject, time=when,
                               seq=seq, gwboot=self.boot, data=data)
        row = Row(seq, topic, payload)
        self.last_seq = seq
        self.history.append(row)
        self.unacked[seq] = row
        if len(self.history) > self.keep:
            gone = self.history.popleft()
            if self.unacked.pop(gone.seq, None) is not None:
                self.dropped += 1
        draft = Draft(name, subject, when, data, topic)
        for callback in list(self._subscribers):
            callback([row], [draft])
        return row

    def ack(self, seq: int) -> None:
        """``seq`` was acknowledged by the broker."""
        if self.unacked.pop(seq, None) is not None:
            self.acked += 1

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(rows, drafts)`` after each submit; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # ---- readers (async like the SQLite outbox's) ------------------------------------------
    @property
    def pending(self) -> int:
        """Rows not acknowledged yet."""
        return len(self.unacked)

    async def read_pending(self, after_seq: int, limit: int) -> list[Row]:
        """Unacknowledged rows with seq > after_seq, in order."""
        rows: list[Row] = []
        for seq, row in self.unacked.items():
            if seq > after_seq:
                rows.append(row)
                if len(rows) >= limit:
                    break
        return rows

    async def read_range(self, from_seq: int, to_seq: int, limit: int) -> list[Row]:
        """Rows from_seq..to_seq still held (acked or not), in order."""
        if not self.history:
            return []
        oldest = self.history[0].seq
        start = max(from_seq, oldest) - oldest
        stop = min(to_seq, self.last_seq) - oldest + 1
        return [self.history[i] for i in range(start, min(stop, start + limit))] if stop > start else []

    def never_issued_ranges(self, from_seq: int, to_seq: int) -> list[tuple[int, int]]:
        """None: numbers below first_seq belong to an earlier run (a state file) and count as pruned, not skipped."""
        return []

    def stats(self) -> dict[str, Any]:
        """The outbox figures of the health event."""
        return {"last_seq": self.last_seq, "pending": self.pending, "dropped": self.dropped, "acked": self.acked}
