"""Staff badge sightings at a door scanner: BLE beacons of a staff UUID, by badge, time and signal strength.

A sighting keeps the badge's identity class (UUID + major + minor: which badge, so that one badge
lingering at the door claims one crossing, not every one) and the RSSI, never the radio address. The
badge key lives in RAM only: it is never published, logged or written, and dies with the process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

BadgeKey = str
"""``uuid`` (lower case) or ``uuid/major/minor``: one badge, in RAM only."""

MERGE_S = 0.5
"""Adverts of one badge closer than this are one sighting (strongest RSSI, latest time): a badge at 10 Hz
then fills its history in minutes, not seconds, longer than any ``badge_window_s`` (at most 60 s)."""


class BadgeSightings:
    """The recent sightings of watched badges by one scanner, per badge; thread-safe (BLE posts, camera reads)."""

    def __init__(self, max_sightings: int = 1024, max_badges: int = 256) -> None:
        # bounded both ways: per badge (merged adverts) and in badges (the least recently heard goes)
        self.max_sightings = max_sightings
        self.max_badges = max_badges
        self._badges: OrderedDict[BadgeKey, deque[tuple[float, int]]] = OrderedDict()
        self._uuid: dict[BadgeKey, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Sightings held (all badges)."""
        with self._lock:
            return sum(len(s) for s in self._badges.values())

    def record(self, uuid: str, rssi: int, now: float, key: BadgeKey | None = None) -> None:
        """A badge of ``uuid`` (identity ``key``; the UUID alone when unknown) heard at ``rssi`` dBm at ``now``."""
        uuid = uuid.lower()
        key = key.lower() if key else uuid
        with self._lock:
            sightings = self._badges.get(key)
            if sightings is None:
                if len(self._badges) >= self.max_badges:
                    self._uuid.pop(self._badges.popitem(last=False)[0], None)
                sightings = self._badges[key] = deque(maxlen=self.max_sightings)
                self._uuid[key] = uuid
            self._badges.move_to_end(key)
            if sightings and 0.0 <= now - sightings[-1][0] < MERGE_S:
                sightings[-1] = (now, max(sightings[-1][1], int(rssi)))
            else:
                sightings.append((now, int(rssi)))

    def forget(self, uuid: str) -> None:
        """Drop every badge of ``uuid`` and its sightings (nobody watches that UUID any more)."""
        uuid = uuid.lower()
        with self._lock:
            for key in [k for k, u in self._uuid.items() if u == uuid]:
                del self._uuid[key]
                self._badges.pop(key, None)

    def near(self, now: float, window_s: float, rssi_min: int, uuid: str | None = None) -> dict[BadgeKey, float]:
        """The badges (of ``uuid``, or any) heard at ``rssi_min`` or stronger within ``window_s`` of ``now``.

        Each with how far in time its nearest such sighting is. The window is both ways: the camera's
        frame time is when the frame was grabbed, and adverts heard while it was processed are as near.
        """
        wanted = uuid.lower() if uuid else None
        found: dict[BadgeKey, float] = {}
        with self._lock:
            for key, sightings in self._badges.items():
                if wanted is not None and self._uuid.get(key) != wanted:
                    continue
                gaps = [abs(t - now) for t, rssi in sightings if abs(t - now) <= window_s and rssi >= rssi_min]
                if gaps:
                    found[key] = min(gaps)
        return found

    def seen(self, now: float, window_s: float, rssi_min: int, uuid: str | None = None) -> bool:
        """Was a badge (of ``uuid``, or any) heard at ``rssi_min`` or stronger within ``window_s`` of ``now``?"""
        return bool(self.near(now, window_s, rssi_min, uuid))

    def absent_since(self, key: BadgeKey, since: float, now: float, window_s: float, rssi_min: int) -> bool:
        """Was ``key`` unheard (at ``rssi_min`` or stronger) for more than ``window_s`` at some point in (since, now]?

        That is the badge leaving the door and coming back. When the history no longer reaches back to
        ``since`` and shows no gap, the answer is no: never claiming twice beats claiming customers.
        """
        with self._lock:
            sightings = self._badges.get(key)
            times = [t for t, rssi in sightings or () if rssi >= rssi_min and since < t <= now]
            # a full history that starts after ``since`` lost what came first: no gap is known there
            lost = sightings is not None and len(sightings) == sightings.maxlen and sightings[0][0] > since
        previous = since
        for t in times:
            if t - previous > window_s and not (lost and previous == since):
                return True
            previous = t
        return now - previous > window_s
