"""Is the fleet delivering? A sampler of every gateway's lag, and the time back to full delivery after a fault.

A gateway is *delivering* at a moment when the newest event the listener has received from it was
created at most ``lag_s`` before (its envelope `time`; every process runs on this machine's clock).
The fleet is at *full delivery* when every gateway is delivering. After a fault at time T, the
fleet is back at the first sample from which it stays at full delivery for ``settle_s``; the time
back is that sample minus T (0 when no gateway ever fell behind). Per gateway the same rule gives
its own time back, for those that fell behind.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench.fleet.listener import Listener

SAMPLE_S = 0.25


@dataclass
class Recovery:
    """The fleet's way back after one fault."""

    fault: str
    at: float
    """time.time() of the fault."""
    back_s: float | None = None
    """Seconds until full delivery (None: not within the timeout)."""
    behind: dict[str, float | None] = field(default_factory=dict)
    """gateway -> its own seconds back (None: never back), for the gateways that fell behind."""
    still_behind: list[str] = field(default_factory=list)


@dataclass
class DeliveryWatch:
    """Samples, every 0.25 s, which gateways are behind."""

    listener: Listener
    keys: list[str]
    lag_s: float
    samples: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> DeliveryWatch:
        """Start sampling."""
        self._thread = threading.Thread(target=self._loop, name="fleet-delivery", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        """One sample every SAMPLE_S until stopped."""
        while not self._stop.wait(SAMPLE_S):
            moment = time.time()
            behind = frozenset(self.listener.lagging(self.keys, self.lag_s, moment))
            with self.lock:
                self.samples.append((moment, behind))

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def since(self, moment: float) -> list[tuple[float, frozenset[str]]]:
        """The samples taken at or after ``moment``."""
        with self.lock:
            return [s for s in self.samples if s[0] >= moment]

    def wait_full(self, since: float, settle_s: float, timeout: float) -> float | None:
        """Block until the fleet has been at full delivery for ``settle_s`` (sampled after ``since``);
        time.time() of the first sample of that stretch, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(SAMPLE_S)
            samples = self.since(since)
            start = None
            for moment, behind in samples:
                if behind:
                    start = None
                elif start is None:
                    start = moment
            if start is not None and samples[-1][0] - start >= settle_s:
                return start
        return None

    def recovery(self, fault: str, at: float, settle_s: float, timeout: float) -> Recovery:
        """Wait for full delivery after a fault at ``at`` (time.time()) and work out the figures."""
        result = Recovery(fault, at)
        # a gateway falls behind only lag_s after its last event: the wait starts once that could show
        time.sleep(max(0.0, at + self.lag_s + 2 * SAMPLE_S - time.time()))
        full = self.wait_full(at, settle_s, timeout)
        samples = self.since(at)
        fell = sorted(set().union(*(behind for _, behind in samples)) if samples else set())
        for key in fell:
            last_bad = max(moment for moment, behind in samples if key in behind)
            back = next((moment for moment, behind in samples if moment > last_bad and key not in behind), None)
            result.behind[key] = None if back is None else round(back - at, 2)
        if full is not None:
            result.back_s = round(full - at, 2) if fell else 0.0
        else:
            result.still_behind = sorted(samples[-1][1]) if samples else []
        return result
