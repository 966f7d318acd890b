"""Moves committed outbox rows to the broker inside a bounded publish window.

The window (≤ max_inflight) is ours, so paho never queues without bound. Live rows arrive
straight from the outbox after each commit; after a reconnect, or when the window fell
behind, rows are read back from the outbox in order. A row is acked in the outbox only when
its PUBACK arrives; whatever was in flight when a connection died is sent again.

Three kinds of message share the window: command answers (first, they are few and someone
waits for each), replayed copies (`cmd/replay`, paged from the outbox by ``ReplayQueue``, never
more than ``replay_share`` of the window) and live rows (the rest of the window, and all of it
when no replay runs). When both a replay and live rows are waiting they take turns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.mqtt.replay import ReplayQueue, ReplayRequest
from gateway.outbox import Draft, Outbox, Row

log = logging.getLogger("storegw.mqtt")

READ_CHUNK = 2000
LIVE_BUFFER_MAX = 20_000
ANSWERS_MAX = 10_000
"""Answers waiting for room in the window. Commands are refused ('busy') long before real
answers could fill this; only if 'busy' answers alone reach it is the oldest of them dropped."""

PublishAnswer = Callable[[str, bytes, Any], int | None]


@dataclass(slots=True)
class Answer:
    """A command answer waiting for room in the window."""

    topic: str
    payload: bytes
    properties: Any = None
    busy: bool = False
    """A 'busy' refusal: the only kind ever dropped, and only when ANSWERS_MAX of them wait."""


@dataclass(slots=True)
class InFlight:
    """A message handed to paho and not yet acknowledged."""

    seq: int | None
    """Outbox sequence; None for a replayed copy or an answer, which ack nothing."""
    sent: float
    answer: Answer | None = None
    """The answer itself, sent again if the connection is lost before its PUBACK."""
    replay: bool = False


class Publisher:
    """The window between the outbox and the MQTT link."""

    def __init__(self, outbox: Outbox, publish: Callable[[str, bytes], int | None], max_inflight: int, *,
                 publish_answer: PublishAnswer | None = None, replay_share: float = 0.5,
                 previous: Publisher | None = None) -> None:
        """A window of ``max_inflight``; ``previous`` hands over its waiting replays and answers."""
        self.outbox = outbox
        self._publish = publish
        self._publish_answer = publish_answer
        self.max_inflight = max_inflight
        self.replay_cap = max(1, min(max_inflight, int(max_inflight * replay_share)))
        """Most replayed copies in flight at once; the rest of the window stays for live rows."""
        self.inflight: dict[int, InFlight] = {}
        self.buffer: deque[Row] = deque()
        self.replays = ReplayQueue()
        self.answers: deque[Answer] = deque()
        self.read_upto = 0
        """Highest seq already taken into ``buffer`` (or known acked)."""
        self.connected = False
        self.sent = 0
        self.acked = 0
        self.rejected = 0
        self.answers_sent = 0
        self.answers_dropped = 0
        self.replay_inflight = 0
        self.most_replay_inflight = 0
        self.ack_latency_hook: Callable[[float], None] | None = None
        self._turn = False
        self._kick = asyncio.Event()
        if previous is not None:
            self.adopt(previous)
        self.close = outbox.subscribe(self._on_committed)
        """Stop taking rows from the outbox (when the link is replaced on reload)."""

    def adopt(self, previous: Publisher) -> None:
        """Take over the replays and answers ``previous`` had not finished (a reload replaced the link)."""
        self.replays.adopt(previous.replays)
        unacked = [entry.answer for entry in previous.inflight.values() if entry.answer is not None]
        self.answers.extend(unacked)
        self.answers.extend(previous.answers)
        previous.answers.clear()
        previous.inflight = {mid: e for mid, e in previous.inflight.items() if e.answer is None}
        self._kick.set()

    # ---- inputs ------------------------------------------------------------------------
    def on_up(self) -> None:
        """A new connection: everything unacked is read again from the outbox."""
        self._reset_window()
        self.connected = True
        self._kick.set()

    def on_down(self) -> None:
        """The connection is gone: what was in flight will be re-read on the next one."""
        self.connected = False
        self._reset_window()

    def _reset_window(self) -> None:
        """Forget what was in flight; answers not acknowledged go out again (first)."""
        lost = [entry.answer for entry in self.inflight.values() if entry.answer is not None]
        self.answers.extendleft(reversed(lost))
        self.inflight.clear()
        self.replay_inflight = 0
        self.buffer.clear()
        self.read_upto = 0

    def on_ack(self, mid: int, ok: bool) -> None:
        """PUBACK for ``mid``."""
        entry = self.inflight.pop(mid, None)
        if entry is None:
            return
        if entry.replay:
            self.replay_inflight -= 1
        if not ok:
            # The broker refused (MQTT 5 reason code); the row stays pending and is retried
            # on the next connection rather than being lost.
            self.rejected += 1
            log.warning("mqtt: broker rejected %s", f"seq {entry.seq}" if entry.seq is not None
                        else "an answer" if entry.answer is not None else "a replayed copy")
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

    def replay(self, from_seq: int, to_seq: int) -> ReplayRequest:
        """Queue a replay of from_seq..to_seq (cmd/replay); its ``done`` resolves once all is handed over.

        Raises ReplayBusy when too many replays wait already.
        """
        request = self.replays.add(from_seq, to_seq, self.outbox.last_seq)
        self._kick.set()
        return request

    def answer(self, topic: str, payload: bytes, properties: Any = None, *, busy: bool = False) -> None:
        """Queue a command answer; it goes out as soon as the window has room, before anything else."""
        if len(self.answers) >= ANSWERS_MAX:
            for index, waiting in enumerate(self.answers):
                if waiting.busy:
                    del self.answers[index]
                    break
            else:
                self.answers.popleft()
            self.answers_dropped += 1
            if self.answers_dropped == 1 or self.answers_dropped % 1000 == 0:
                log.warning("mqtt: %d 'busy' answers dropped: %d answers wait for the broker",
                            self.answers_dropped, len(self.answers))
        self.answers.append(Answer(topic, payload, properties, busy))
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
            await self.fill()

    async def fill(self) -> None:
        """Send until the window is full or nothing is left to send."""
        while self.connected and len(self.inflight) < self.max_inflight:
            self.replays.release()
            kind = self._choose()
            if kind is None:
                break
            if kind == "answer":
                if not self._send_answer():
                    break
            elif kind == "replay":
                row = self.replays.pop()
                if row is None:
                    await self._read_replay_page()
                    continue
                if not self._send(row, replay=True):
                    self.replays.push_back(row)
                    break
            else:
                if not self.buffer:
                    try:
                        rows = await self.outbox.read_pending(self.read_upto, READ_CHUNK)
                    except Exception as exc:
                        log.error("mqtt: reading pending events failed (%s); trying again in 1 s", exc)
                        asyncio.get_running_loop().call_later(1.0, self._kick.set)
                        break
                    if not self.connected:
                        break
                    if rows:
                        self.buffer.extend(r for r in rows if r.seq > self.read_upto)
                        self.read_upto = max(self.read_upto, rows[-1].seq)
                    else:
                        self.read_upto = max(self.read_upto, self.outbox.last_seq)
                    continue
                row = self.buffer.popleft()
                if not self._send(row, replay=False):
                    # Not connected after all: put it back; on_up will re-read everything.
                    self.buffer.appendleft(row)
                    break
        self.replays.release()

    def _choose(self) -> str | None:
        """What goes next: answers first; a replay and live rows take turns while both wait."""
        if self.answers and self._publish_answer is not None:
            return "answer"
        live = bool(self.buffer) or self.outbox.last_seq > self.read_upto
        replay = (bool(self.replays.rows) or self.replays.next_page() is not None) \
            and self.replay_inflight < self.replay_cap
        if live and replay:
            self._turn = not self._turn
            return "replay" if self._turn else "live"
        return "live" if live else "replay" if replay else None

    async def _read_replay_page(self) -> None:
        """Read the next page of the replays from the outbox (only called when the window has room)."""
        span = self.replays.next_page()
        if span is None:
            return
        try:
            rows = await self.outbox.read_range(span[0], span[1], self.replays.page_rows)
        except Exception as exc:
            # answered as an error rather than taking the whole window down with the replay
            log.error("mqtt: replay of %d..%d: the outbox could not be read (%s)", span[0], span[1], exc)
            self.replays.fail(span[0], span[1], f"the outbox could not be read ({type(exc).__name__}: {exc}); "
                                                "ask again later")
            return
        self.replays.take_page(span[0], span[1], rows)

    def _send(self, row: Row, *, replay: bool) -> bool:
        """Hand one row to paho; False if it could not be sent."""
        mid = self._publish(row.topic, row.payload)
        if mid is None:
            return False
        self.inflight[mid] = InFlight(None if replay else row.seq, time.monotonic(), replay=replay)
        self.sent += 1
        if replay:
            self.replay_inflight += 1
            self.most_replay_inflight = max(self.most_replay_inflight, self.replay_inflight)
        return True

    def _send_answer(self) -> bool:
        """Hand the oldest waiting answer to paho; False if it could not be sent."""
        assert self._publish_answer is not None
        answer = self.answers[0]
        mid = self._publish_answer(answer.topic, answer.payload, answer.properties)
        if mid is None:
            return False
        self.answers.popleft()
        self.inflight[mid] = InFlight(None, time.monotonic(), answer=answer)
        self.answers_sent += 1
        return True
