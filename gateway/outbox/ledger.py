"""What the outbox knows in memory about what its database holds: the figures every part keeps up to date."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.outbox.counters import OutboxCounters


@dataclass
class Ledger:
    """The outbox's figures in memory, changed only once what they describe is durable (or lost)."""

    boot: int = 0
    last_seq: int = 0
    pending: int = 0
    used_bytes: int = 0
    oldest_pending_created: float | None = None
    """Commit time of the oldest undelivered row; None when unknown (read again lazily)."""
    counters: OutboxCounters = field(default_factory=OutboxCounters)
    dirty_counters: bool = False
    """The counters changed since they were last written to the database."""
    boot_unsaved: bool = False
    """The boot number is not in the database yet; it goes with the next transaction."""

    def count_drop(self, key: str, count: int) -> None:
        """Add to a drop counter; persisted with the next transaction (or the state file)."""
        self.counters.add_dropped(key, count)
        self.dirty_counters = True

    def rows_gone(self, removed: int) -> None:
        """Undelivered rows were deleted: fewer pending, and the oldest one is to be read again."""
        if removed:
            self.pending = max(0, self.pending - removed)
            self.oldest_pending_created = None
