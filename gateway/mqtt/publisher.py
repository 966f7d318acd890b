"""Moves committed outbox rows to the broker inside a bounded publish window.

The window (≤ max_inflight) is ours, so paho never queues without bound. Live rows arrive
straight from the outbox after each commit; after a reconnect, or when the window fell
behind, rows are read back from the outbox in order. A row is acked in the outbox only when
its PUBACK arrives; whatever was in flight when a connection died is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.outbox import Draft, Outbox, Row

log = logging.getLogger("storegw.mqtt")

READ_CHUNK = 2000
LIVE_BUFFER_MAX = 20_000


@dataclass(slots=True)
class InFlight:
    """A message handed to paho and not yet acknowledged."""

    seq: int | None
    """Outbox sequence; None for a replayed copy that acks nothing."""
    sent: float


class Publisher:
    """The window between the outbox and the MQTT link."""

    def __init__(self, outbox: Outbox, publish: Callable[[str, bytes], int | None], max_inflight: int) -> None:
        self.outbox = outbox
        self._publish = publish
        self.max_inflight = max_inflight
        self.inflight: dict[int, InFlight] = {}
        self.buffer: deque[Row] = deque()
        self.replays: deque[Row] = deque()
        self.read_upto = 0
        """Highest seq already taken into ``buffer`` (or known acked)."""
        self.connected = False
        self.sent = 0
        self.acked = 0
        self.rejected = 0
        self.ack_latency_hook: Callable[[float], None] | None = None
        self._kick = asyncio.Event()
        self.close = outbox.subscribe(self._on_committed)
        """Stop taking rows from the outbox (when the link is replaced on reload)."""

    # ---- inputs ------------------------------------------------------------------------
    def on_up(self) -> None:
        """A new connection: everything unacked is read again from the outbox."""
        self.inflight.clear()
        self.buffer.clear()
        self.read_upto = 0
        self.connected = True
        self._kick.set()

    def on_down(self) -> None:
        """The connection is gone: what was in flight will be re-read on the next one."""
        self.connected = False
        self.inflight.clear()
        self.buffer.clear()
        self.read_upto = 0

    def on_ack(self, mid: int, ok: bool) -> None:
        """PUBACK for ``mid``."""
        entry = self.inflight.pop(mid, None)
        if entry is None:
            return
        if not ok:
            # The broker refused (MQTT 5 reason code); the row stays pending and is retried
            # on the next connection rather than being lost.
            self.rejected += 1
            log.warning("mqtt: broker rejected seq %s", entry.seq)
        elif entry.seq is not None:
            self.acked += 1
            self.outbox.ack(entry.seq)
            if self.ack_latency_hook is not None:
                self.ack_latency_hook(time.monotonic() - entry.sent)
        self._kick.set()

    def _on_committed(self, rows: list[Row], drafts: list[Draft]) -> None:
        """Take freshly committed rows directly when they continue what was read."""
        if not self.connected or not rows:
            return
        if rows[0].seq == self.read_upto + 1 and len(self.buffer) < LIVE_BUFFER_MAX:
            self.buffer.extend(rows)
            self.read_upto = rows[-1].seq
        self._kick.set()

    def replay(self, rows: list[Row]) -> None:
        """Publish copies of already committed rows (cmd/replay)."""
        self.replays.extend(rows)
        self._kick.set()

    # ---- the pump ----------------------------------------------------------------------
    def oldest_inflight(self) -> float | None:
        """Monotonic send time of the oldest message still in flight."""
        if not self.inflight:
            return None
        return min(entry.sent for entry in self.inflight.values())

    async def run(self) -> None:
        """Fill the window whenever there is room and something to send."""
        while True:
            await self._kick.wait()
            self._kick.clear()
            while self.connected and len(self.inflight) < self.max_inflight:
                row, seq = self._next_row()
                if row is None:
                    if self.outbox.last_seq > self.read_upto:
                        rows = await self.outbox.read_pending(self.read_upto, READ_CHUNK)
                        if not self.connected:
                            break
                        if rows:
                            self.buffer.extend(r for r in rows if r.seq > self.read_upto)
                            self.read_upto = max(self.read_upto, rows[-1].seq)
                            continue
                        self.read_upto = self.outbox.last_seq
                    break
                mid = self._publish(row.topic, row.payload)
                if mid is None:
                    # Not connected after all: put it back; on_up will re-read everything.
                    (self.buffer if seq is not None else self.replays).appendleft(row)
                    break
                self.inflight[mid] = InFlight(seq, time.monotonic())
                self.sent += 1

    def _next_row(self) -> tuple[Row | None, int | None]:
        """Replays first (someone is waiting for them), then the live stream."""
        if self.replays:
            return self.replays.popleft(), None
        if self.buffer:
            row = self.buffer.popleft()
            return row, row.seq
        return None, None
