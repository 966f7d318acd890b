"""Replays asked for on `cmd/replay`: pending ranges, merged, read from the outbox a page at a time.

Memory does not depend on what is asked: the queue holds the ranges still to read (a few
integers per request), at most one page of rows read from SQLite and not yet handed to the
window, and a small record per waiting request. Overlapping and adjacent requests share their
reads: a number asked for by several waiting requests is read and published once for all of
them. A request is finished when every number of its range has been read (or found missing)
after it was asked for and the rows read for it have been handed to the window; its answer
then says how many were replayed and which numbers were missing.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.events.ranges import RangeSet, gaps
from gateway.outbox import Row

PAGE_ROWS = 500
"""Rows read from SQLite at a time (and the most held in RAM for replays)."""
MAX_WAITING = 100
"""Replay requests accepted and not yet answered; more are answered 'busy'."""
MAX_ANSWER_RANGES = 1000
"""Missing ranges kept per request for its answer; beyond this the answer says `truncated`."""


def split_missing(missing: RangeSet, never_issued: Iterable[tuple[int, int]]
                  ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split missing ranges into (pruned, never issued) given the ranges the outbox never issued."""
    skipped = RangeSet(never_issued)
    pruned = RangeSet(missing.ranges())
    not_issued: list[tuple[int, int]] = []
    for lo, hi in missing:
        for part in skipped.overlap(lo, hi):
            not_issued.append(part)
            pruned.remove(*part)
    return pruned.ranges(), not_issued


class ReplayBusy(Exception):
    """Too many replay requests are waiting; the caller answers 'busy'."""


class ReplayFailed(Exception):
    """The outbox could not be read for a request; the message is the answer's error sentence."""


@dataclass(eq=False)
class ReplayRequest:
    """One accepted `cmd/replay`: what it asked for and what has been found so far."""

    from_seq: int
    to_seq: int
    last_seq: int
    """The outbox's last sequence number when it was asked: numbers above are not issued yet."""
    remaining: RangeSet
    """Numbers still to be read for this request."""
    done: asyncio.Future[ReplayRequest]
    replayed: int = 0
    missing: RangeSet = field(default_factory=RangeSet)
    truncated: bool = False
    pages: int = 0


class ReplayQueue:
    """The replays waiting to be published: ranges still to read and the current page's rows."""

    def __init__(self, page_rows: int = PAGE_ROWS, max_waiting: int = MAX_WAITING) -> None:
        """An empty queue reading ``page_rows`` rows at a time, accepting ``max_waiting`` requests."""
        self.page_rows = page_rows
        self.max_waiting = max_waiting
        self.pending = RangeSet()
        """Numbers some waiting request still needs read."""
        self.rows: deque[Row] = deque()
        """Rows read and not yet handed to the window (at most one page)."""
        self.requests: list[ReplayRequest] = []
        """Requests whose range is not read completely yet."""
        self._finished: list[ReplayRequest] = []
        """Requests read completely, answered once their rows have been handed to the window."""
        self.pages_read = 0
        self.rows_read = 0
        self.most_rows_held = 0
        """High-water mark of ``rows``: what replays have cost in RAM at most."""

    # ---- requests ------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Requests accepted and not answered yet."""
        return len(self.requests) + len(self._finished)

    def add(self, from_seq: int, to_seq: int, last_seq: int) -> ReplayRequest:
        """Accept from_seq..to_seq (numbers above ``last_seq`` are not issued yet, so not read)."""
        if self.waiting >= self.max_waiting:
            raise ReplayBusy(f"busy: {self.waiting} replays waiting; ask again when they are answered")
        remaining = RangeSet()
        remaining.add(from_seq, min(to_seq, last_seq))
        request = ReplayRequest(from_seq, to_seq, last_seq, remaining, asyncio.get_running_loop().create_future())
        if remaining:
            self.pending.add(from_seq, min(to_seq, last_seq))
            self.requests.append(request)
        else:
            self._finished.append(request)
        return request

    def adopt(self, other: ReplayQueue) -> None:
        """Take over everything ``other`` still had to do (the link was replaced on a reload)."""
        for lo, hi in other.pending:
            self.pending.add(lo, hi)
        self.rows.extendleft(reversed(other.rows))
        self.requests.extend(other.requests)
        self._finished.extend(other._finished)
        other.pending, other.rows, other.requests, other._finished = RangeSet(), deque(), [], []

    # ---- paging --------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while rows are to be read or sent, or answers are due."""
        return bool(self.rows or self.pending or self._finished)

    def next_page(self) -> tuple[int, int] | None:
        """The span to read next (read at most ``page_rows`` of it), or None while rows are held."""
        if self.rows:
            return None
        return self.pending.first()

    def take_page(self, lo: int, hi: int, rows: list[Row]) -> None:
        """Account for a page: ``rows`` as read_range(lo, hi, page_rows) returned them."""
        end = rows[-1].seq if len(rows) >= self.page_rows else hi
        seqs = [row.seq for row in rows]
        self.pages_read += 1
        self.rows_read += len(rows)
        still: list[ReplayRequest] = []
        for request in self.requests:
            parts = request.remaining.overlap(lo, end)
            if parts:
                request.pages += 1
            for a, b in parts:
                request.replayed += bisect.bisect_right(seqs, b) - bisect.bisect_left(seqs, a)
                for gap in gaps(seqs, a, b):
                    if len(request.missing) < MAX_ANSWER_RANGES:
                        request.missing.add(*gap)
                    else:
                        request.truncated = True
                request.remaining.remove(a, b)
            (still if request.remaining else self._finished).append(request)
        self.requests = still
        self.pending.remove(lo, end)
        self.rows.extend(rows)
        self.most_rows_held = max(self.most_rows_held, len(self.rows))

    def fail(self, lo: int, hi: int, reason: str) -> list[ReplayRequest]:
        """The outbox could not read lo..hi: end every request that needs part of it with ``reason``."""
        failed = [r for r in self.requests if r.remaining.overlap(lo, hi)]
        self.requests = [r for r in self.requests if not r.remaining.overlap(lo, hi)]
        self.pending = RangeSet()
        for request in self.requests:
            for a, b in request.remaining:
                self.pending.add(a, b)
        for request in failed:
            if not request.done.done():
                request.done.set_exception(ReplayFailed(reason))
        return failed

    def pop(self) -> Row | None:
        """The next row to publish, if a page is held."""
        return self.rows.popleft() if self.rows else None

    def push_back(self, row: Row) -> None:
        """Put back a row that could not be published."""
        self.rows.appendleft(row)

    def release(self) -> list[ReplayRequest]:
        """Requests whose rows have all been handed to the window; resolves their futures."""
        if self.rows or not self._finished:
            return []
        finished, self._finished = self._finished, []
        for request in finished:
            if not request.done.done():
                request.done.set_result(request)
        return finished
