"""Sequence numbers: reserved ahead in the state file, never reused, and the ranges that were skipped.

The sequence is the ``INTEGER PRIMARY KEY AUTOINCREMENT`` of the row, so it is never reused, and a
reservation kept in the state file lets it continue past a corrupt database that had to be set
aside (`floor.py` covers losing both).
"""

from __future__ import annotations

from typing import Any

from gateway.outbox import floor
from gateway.outbox.ledger import Ledger
from gateway.outbox.sidecar import Sidecar

SEQ_RESERVE = 100_000
"""Sequence numbers reserved ahead in the state file; a corrupt database costs at most this gap."""
SKIPPED_KEPT = 1000
"""Skipped ranges remembered (a handful in a gateway's life; the oldest are forgotten beyond this)."""


def state_count(value: Any) -> int:
    """A non-negative integer from a state file, or 0 for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _ranges(value: Any) -> list[tuple[int, int, str]]:
    """Skipped ranges from a state file: [from, to, reason] lists; anything malformed is left out."""
    out = []
    for item in value if isinstance(value, list) else []:
        if (isinstance(item, list) and len(item) == 3 and state_count(item[0]) >= 1 and state_count(item[1]) >= item[0]
                and isinstance(item[2], str)):
            out.append((item[0], item[1], item[2]))
    return out


class SequenceBook:
    """How far numbers are reserved and committed, and which ranges were never issued; saved in the state file."""

    def __init__(self, path: str, sidecar: Sidecar, ledger: Ledger) -> None:
        """The book of the outbox at ``path``, whose state file is ``sidecar`` (boot and counters from ``ledger``)."""
        self.path = path
        self.sidecar = sidecar
        self.ledger = ledger
        self.reserved = 0
        self.committed = 0
        """The highest number known committed, in this database or a lost one."""
        self.skipped: dict[int, tuple[int, int, str]] = {}
        """from_seq -> (from, to, reason): ranges never issued."""
        self.skipped_unsaved: set[int] = set()
        """from_seq of ranges the database does not hold yet."""
        self.marked = False

    def load(self, state: dict[str, Any]) -> None:
        """Take the reservation, the committed number and the skipped ranges from a loaded state file."""
        self.reserved = state_count(state.get("seq_reserved"))
        self.committed = state_count(state.get("seq_committed"))
        for skip in _ranges(state.get("skipped")):
            self.remember_skip(*skip)

    def load_skipped(self, held: list[tuple[Any, Any, Any]]) -> None:
        """Add the skipped ranges the database holds; the others are still to be saved in it."""
        in_db = {int(first) for first, _, _ in held}
        for first, last, reason in held:
            self.remember_skip(int(first), int(last), str(reason))
        self.skipped_unsaved = set(self.skipped) - in_db  # known from the state file or RAM only

    def mark_if_issued(self) -> None:
        """Leave the directory's marker when numbers were issued here (also by a release without it)."""
        if self.committed or self.reserved:
            try:
                floor.mark(self.path)
                self.marked = True
            except OSError:
                pass  # made before the next reservation instead, which cannot happen without it

    def reserve(self, upto: int) -> None:
        """Record in the state file that sequence numbers up to ``upto`` (and more) may be used.

        Only once that is on disk may they be committed: a failed save raises and nothing is.
        """
        if upto <= self.reserved:
            return
        if not self.marked:
            floor.mark(self.path)
            self.marked = True
        reserved = upto + SEQ_RESERVE
        self.save_state(reserved)
        self.reserved = reserved

    def save_state(self, reserved: int | None = None) -> None:
        """Write the state file: boot, reservation, the highest committed number and the counters."""
        self.sidecar.save({"boot": self.ledger.boot, "seq_reserved": max(reserved or 0, self.reserved),
                           "seq_committed": self.committed, "counters": self.ledger.counters.flat(),
                           "skipped": [list(skip) for skip in self.skipped.values()]})

    def remember_skip(self, first: int, last: int, reason: str) -> None:
        """Keep a range of numbers never issued (for replay answers), to be saved in the database too."""
        self.skipped[first] = (first, last, reason)
        self.skipped_unsaved.add(first)
        while len(self.skipped) > SKIPPED_KEPT:
            oldest = min(self.skipped)
            del self.skipped[oldest]
            self.skipped_unsaved.discard(oldest)

    def unsaved_skips(self) -> list[tuple[int, int, str]]:
        """The skipped ranges the database does not hold yet."""
        return [self.skipped[first] for first in self.skipped_unsaved if first in self.skipped]

    def skips_saved(self, skips: list[tuple[int, int, str]]) -> None:
        """``skips`` are durable in the database now."""
        self.skipped_unsaved -= {first for first, _, _ in skips}

    def never_issued_ranges(self, from_seq: int, to_seq: int) -> list[tuple[int, int]]:
        """The parts of from_seq..to_seq that were skipped, never given to an event (sequence-gap events)."""
        found = []
        for first, last, _ in sorted(self.skipped.values()):
            lo, hi = max(first, from_seq), min(last, to_seq)
            if lo <= hi:
                found.append((lo, hi))
        return found
