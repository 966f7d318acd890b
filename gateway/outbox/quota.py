"""What the outbox keeps, for how long, and what goes first when the disk quota or the RAM bound is reached."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.config.model import Config


@dataclass(frozen=True)
class QuotaPolicy:
    """Retention and drop policy of the outbox (from the `[outbox]` config table)."""

    max_bytes: int = 1_000_000_000
    retain_acked_s: float = 7 * 86400
    max_pending_age_s: float = 0.0
    drop_order: tuple[str, ...] = field(default=("synthetic", "health"))


def quota_policy(config: Config) -> QuotaPolicy:
    """The outbox policy of a config (its `[outbox]` table)."""
    table = config.outbox
    return QuotaPolicy(max_bytes=table.max_bytes, retain_acked_s=table.retain_acked_s,
                       max_pending_age_s=table.max_pending_age_s, drop_order=tuple(table.drop_order))


class Named(Protocol):
    """Anything queued: only its event type matters to the policy."""

    name: str


COMPACT_MIN = 1024
"""Dropped slots are swept out of the queue once there are this many and more than live ones."""


class RamQueue:
    """Events waiting in RAM for their transaction, in order, never more than ``limit``.

    At the bound the quota policy picks what goes: the oldest event of the first type in
    ``drop_order`` that is queued, else the oldest of any type. Dropping is O(1): a slot is
    emptied in place and swept out later (amortised), and an index per drop_order type finds
    that type's oldest event without a scan.
    """

    def __init__(self, limit: int, drop_order: tuple[str, ...] = ()) -> None:
        """An empty queue of at most ``limit`` events, dropping by ``drop_order`` at the bound."""
        self.limit = limit
        self.drop_order = tuple(drop_order)
        self._slots: deque[list[Any]] = deque()  # [draft] or [None] once dropped
        self._by_type: dict[str, deque[list[Any]]] = {name: deque() for name in self.drop_order}
        self._live = 0
        self._dead = 0

    def __len__(self) -> int:
        """Events queued (dropped ones not counted)."""
        return self._live

    def __bool__(self) -> bool:
        """True while anything is queued."""
        return self._live > 0

    def append(self, draft: Named) -> list[Any]:
        """Queue ``draft`` last; returns what the policy dropped to stay within the bound."""
        self._push(draft, left=False)
        return self._enforce()

    def take(self, count: int) -> list[Any]:
        """Remove and return up to ``count`` of the oldest events."""
        out: list[Any] = []
        while len(out) < count and self._slots:
            slot = self._slots.popleft()
            draft = slot[0]
            if draft is None:
                self._dead -= 1
                continue
            index = self._by_type.get(draft.name)
            if index is not None:
                index.popleft()  # the oldest live event of its type is the oldest of all
            out.append(draft)
        self._live -= len(out)
        return out

    def put_back(self, drafts: list[Any]) -> list[Any]:
        """Return ``drafts`` (taken, not committed) to the front; returns what the bound then drops."""
        for draft in reversed(drafts):
            self._push(draft, left=True)
        return self._enforce()

    def drain(self) -> list[Any]:
        """Remove and return everything queued."""
        return self.take(self._live)

    def _push(self, draft: Named, *, left: bool) -> None:
        """Add one slot at either end, and to its type's index."""
        slot = [draft]
        index = self._by_type.get(draft.name)
        if left:
            self._slots.appendleft(slot)
            if index is not None:
                index.appendleft(slot)
        else:
            self._slots.append(slot)
            if index is not None:
                index.append(slot)
        self._live += 1

    def _enforce(self) -> list[Any]:
        """Drop by policy until within the bound."""
        dropped = []
        while self._live > self.limit:
            dropped.append(self._drop_one())
        return dropped

    def _drop_one(self) -> Any:
        """Drop the oldest event of the first drop_order type queued, else the oldest of all."""
        for name in self.drop_order:
            index = self._by_type[name]
            if index:
                slot = index.popleft()
                draft = slot[0]
                slot[0] = None
                self._live -= 1
                self._dead += 1
                if self._dead >= COMPACT_MIN and self._dead > self._live:
                    self._slots = deque(s for s in self._slots if s[0] is not None)
                    self._dead = 0
                return draft
        return self.take(1)[0]
