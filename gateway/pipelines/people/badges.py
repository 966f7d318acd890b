"""Staff badge sightings at a door scanner: BLE beacons of a staff UUID, by time and signal strength.

Only the badge UUID (the class "staff badge", shared by every badge of the store) and the RSSI are
kept, never the radio address: a sighting says "a staff badge was near the door", not whose.
"""

from __future__ import annotations

import threading
from collections import deque


class BadgeSightings:
    """The recent sightings of watched badge UUIDs by one scanner; thread-safe (BLE posts, camera reads)."""

    def __init__(self, max_sightings: int = 1024) -> None:
        # bounded: a few badges advertising at 10 Hz fill this in tens of seconds, longer than any window
        self._sightings: deque[tuple[float, str, int]] = deque(maxlen=max_sightings)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Sightings held."""
        return len(self._sightings)

    def record(self, uuid: str, rssi: int, now: float) -> None:
        """A badge of ``uuid`` heard at ``rssi`` dBm at ``now``."""
        with self._lock:
            self._sightings.append((now, uuid.lower(), int(rssi)))

    def seen(self, now: float, window_s: float, rssi_min: int, uuid: str | None = None) -> bool:
        """Was a badge (of ``uuid``, or any) heard at ``rssi_min`` or stronger within ``window_s`` of ``now``?

        The window is both ways: the camera's frame time is when the frame was grabbed, and adverts
        heard while it was being processed are just as near the crossing.
        """
        wanted = uuid.lower() if uuid else None
        with self._lock:
            return any(abs(t - now) <= window_s and rssi >= rssi_min and (wanted is None or u == wanted)
                       for t, u, rssi in self._sightings)
