"""The simulator's figures: connections, events published and acked, and the reconnect waves.

A reconnect wave is what a broker restart does to a fleet: it opens at the first gateway that loses
its connection while no wave is open, and closes when every gateway that lost it in the meantime is
connected again. Its spread is the time between the first and the last gateway back; the issue asks
for it ("the gateways' reconnect spread after a broker restart").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Wave:
    """One reconnect wave: who went down when, and who came back when."""

    opened: float
    down: dict[int, float] = field(default_factory=dict)
    """gateway index -> when it lost its connection."""
    up: dict[int, float] = field(default_factory=dict)
    """gateway index -> when it was connected again."""

    @property
    def closed(self) -> bool:
        """Every gateway that went down is back."""
        return len(self.up) == len(self.down)

    def summary(self) -> dict[str, Any]:
        """The wave's figures in seconds from its opening."""
        back = [t - self.opened for t in self.up.values()]
        outage = [self.up[i] - self.down[i] for i in self.up]
        return {"lost": len(self.down), "back": len(self.up),
                "first_back_s": round(min(back), 3) if back else None,
                "last_back_s": round(max(back), 3) if back else None,
                "spread_s": round(max(back) - min(back), 3) if back else None,
                "outage_p50_s": round(percentile(outage, 0.5), 3), "outage_p90_s": round(percentile(outage, 0.9), 3),
                "outage_max_s": round(max(outage), 3) if outage else None}


class FleetFigures:
    """Counts shared by every simulated gateway of a run."""

    def __init__(self, gateways: int, clock: Callable[[], float] = time.monotonic) -> None:
        """Figures of a fleet of ``gateways``."""
        self.gateways = gateways
        self.clock = clock
        self.connected = 0
        self.ever_connected: set[int] = set()
        self.reconnects = 0
        self.waves: list[Wave] = []
        self.wave: Wave | None = None

    def up(self, index: int) -> None:
        """Gateway ``index`` is connected."""
        self.connected += 1
        if index in self.ever_connected:
            self.reconnects += 1
        self.ever_connected.add(index)
        wave = self.wave
        if wave is not None and index in wave.down:
            wave.up[index] = self.clock()
            if wave.closed:
                self.waves.append(wave)
                self.wave = None

    def down(self, index: int) -> None:
        """Gateway ``index`` lost its connection."""
        self.connected -= 1
        if self.wave is None:
            self.wave = Wave(self.clock())
        self.wave.down[index] = self.clock()
        self.wave.up.pop(index, None)

    def last_wave(self) -> dict[str, Any] | None:
        """The open wave, else the last closed one (None before any loss)."""
        wave = self.wave or (self.waves[-1] if self.waves else None)
        if wave is None:
            return None
        return {**wave.summary(), "open": wave is self.wave}


def wave_line(wave: dict[str, Any] | None) -> str:
    """A reconnect wave in a few words for the periodic line."""
    if wave is None:
        return ""
    if wave["open"]:
        return f"; reconnecting: {wave['back']}/{wave['lost']} back"
    return (f"; last reconnect wave: {wave['lost']} gateways back {wave['first_back_s']:.1f}.."
            f"{wave['last_back_s']:.1f} s after the first loss (spread {wave['spread_s']:.1f} s)")
