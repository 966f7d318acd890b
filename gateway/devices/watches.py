"""Watches held per key and watcher, for the process-wide boards (badges, shop fronts).

A key stays watched while any watcher holds a watch on it; a watcher undoing a watch it does not hold
changes nothing, so a device that stops twice cannot drop another device's watch. Not locked itself:
the boards call it under their own lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable


class Watches:
    """How many watches each watcher holds on each key."""

    def __init__(self) -> None:
        """Nothing watched."""
        self._held: dict[Hashable, Counter[str]] = {}

    def add(self, key: Hashable, watcher: str) -> None:
        """``watcher`` takes one more watch on ``key``."""
        self._held.setdefault(key, Counter())[watcher] += 1

    def remove(self, key: Hashable, watcher: str) -> bool:
        """Undo one watch of ``watcher`` on ``key``; True when that was the key's last watch of all watchers."""
        watchers = self._held.get(key)
        if watchers is None or watchers[watcher] <= 0:
            return False
        watchers[watcher] -= 1
        if watchers[watcher] <= 0:
            del watchers[watcher]
        if watchers:
            return False
        del self._held[key]
        return True

    def clear(self) -> None:
        """Forget every watch."""
        self._held.clear()
