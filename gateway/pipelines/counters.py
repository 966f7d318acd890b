"""People counters: cumulative device counts -> deltas -> footfall per interval and door.

Counters lose their counts on power loss and wrap at 2^bits. A count lower than the last one is
a wrap when the last was in the top quarter of the range and the new one in the bottom quarter;
otherwise it is a reset, and the new count is what happened since the reset. A count outside
0 .. 2^bits - 1 cannot come from the counter: that reading is skipped (counted in
``out_of_range``), so a delta is never negative.

With an ``Occupancy`` (``pipelines/occupancy.py``) the deltas also keep the store's
occupancy: in - out, never negative, reset daily, alerts over a limit; in the daemon it is the
door's share of the count every door of the store adds to (``gateway/devices/store_occupancy.py``).
The footfall baseline is saved only when an interval closes (a crash recounts the open interval in
footfall), the occupancy count with its own publications: after a restart the first occupancy delta is
taken against the reading the restored count includes (``Occupancy.saved_reading``), so a door's people
are never counted twice in it, whichever of the two saves was the later.

With a ``CounterRetail`` (``pipelines/counter_retail.py``) each reading's people are split into staff
and customers (``in``/``out`` are customers; occupancy still counts everyone), customers are grouped by
time, and the interval gets the shop front's passers-by and the capture rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.events.envelope import rfc3339
from gateway.events.types.footfall import FootfallData
from gateway.pipelines import Event
from gateway.pipelines.counter_retail import CounterRetail
from gateway.pipelines.occupancy import DoorReading, Occupancy


def in_range(count: int, bits: int) -> bool:
    """True when ``count`` fits a ``bits``-wide counter."""
    return 0 <= count < 1 << bits


def counter_delta(previous: int, current: int, bits: int) -> tuple[int, str]:
    """People counted between two cumulative readings, and how: "step", "wrap" or "reset".

    Both readings must be within the counter's range (ValueError otherwise), so the delta is never negative.
    """
    span = 1 << bits
    if not (in_range(previous, bits) and in_range(current, bits)):
        raise ValueError(f"counts {previous} -> {current} are outside a {bits}-bit counter (0..{span - 1})")
    if current >= previous:
        return current - previous, "step"
    if previous >= span * 3 // 4 and current < span // 4:
        return span - previous + current, "wrap"
    return current, "reset"


@dataclass
class Baseline:
    """The last cumulative counts seen from a sensor (kept across restarts by the integration)."""

    sensor_id: str
    count_in: int
    count_out: int


class FootfallCounter:
    """Turns cumulative readings of one door's counter into `footfall` events per interval.

    Intervals are aligned to multiples of ``interval_s`` since the epoch. An interval is emitted
    by ``tick(now)`` once it has ended, with zero counts when nobody passed (so "nobody came"
    differs from "no data"). ``flush(now)`` emits the running interval up to ``now`` (shutdown);
    the next interval then starts at ``now``, so no person is ever counted twice.
    """

    def __init__(self, line: str, interval_s: float, counter_bits: int, baseline: Baseline | None = None,
                 occupancy: Occupancy | None = None, retail: CounterRetail | None = None) -> None:
        """``retail``: staff badges, groups and the shop front (``counter_retail.py``); None: in/out only."""
        self.line = line
        self.retail = retail
        self.occupancy = occupancy
        self.interval_s = interval_s
        self.counter_bits = counter_bits
        self.baseline = baseline
        self.start: float | None = None
        self.people_in = 0
        self.people_out = 0
        self.resets = 0
        self.wraps = 0
        self.out_of_range = 0
        """Readings skipped because a count was outside the counter's range (garbage, not people)."""
        self._occupancy_from = occupancy.saved_reading if occupancy is not None else None
        """The reading the restored occupancy count includes: its first delta is taken from it (then footfall's)."""

    def _boundary(self, t: float) -> float:
        """Start of the aligned interval that contains ``t``."""
        return math.floor(t / self.interval_s) * self.interval_s

    def feed(self, sensor_id: str, count_in: int, count_out: int, now: float) -> list[Event]:
        """One cumulative reading; returns events of intervals that ended before it."""
        events = self.tick(now)
        if not (in_range(count_in, self.counter_bits) and in_range(count_out, self.counter_bits)):
            self.out_of_range += 1  # a corrupt report: neither a step nor a reset; the baseline stays
            return events
        if self.start is None:
            self.start = now
        occupancy_delta = self._occupancy_delta(sensor_id, count_in, count_out)
        base = self.baseline
        if (base is None or base.sensor_id != sensor_id or not in_range(base.count_in, self.counter_bits)
                or not in_range(base.count_out, self.counter_bits)):
            # a new sensor, or a saved baseline this counter cannot have produced: nothing to compare yet
            self.baseline = Baseline(sensor_id, count_in, count_out)
            if self.retail is not None:
                self.retail.restart(now)
            return events + self._count_occupancy(occupancy_delta or (0, 0), sensor_id, count_in, count_out, now)
        delta_in, how_in = counter_delta(base.count_in, count_in, self.counter_bits)
        delta_out, how_out = counter_delta(base.count_out, count_out, self.counter_bits)
        self.resets += "reset" in (how_in, how_out)
        self.wraps += (how_in == "wrap") + (how_out == "wrap")
        # customers only in in/out (staff apart); occupancy below still counts everyone, as the camera's does
        customers_in, customers_out = (delta_in, delta_out) if self.retail is None else \
            self.retail.split(delta_in, delta_out, now)
        self.people_in += customers_in
        self.people_out += customers_out
        base.count_in, base.count_out = count_in, count_out
        return events + self._count_occupancy(occupancy_delta or (delta_in, delta_out), sensor_id, count_in,
                                              count_out, now)

    def _occupancy_delta(self, sensor_id: str, count_in: int, count_out: int) -> tuple[int, int] | None:
        """The first reading's people against the reading the restored count includes; None: footfall's delta."""
        saved, self._occupancy_from = self._occupancy_from, None
        if saved is None or saved.sensor_id != sensor_id or not (
                in_range(saved.count_in, self.counter_bits) and in_range(saved.count_out, self.counter_bits)):
            return None
        return (counter_delta(saved.count_in, count_in, self.counter_bits)[0],
                counter_delta(saved.count_out, count_out, self.counter_bits)[0])

    def _count_occupancy(self, delta: tuple[int, int], sensor_id: str, count_in: int, count_out: int,
                         now: float) -> list[Event]:
        """Add a reading's people to the store count, which then includes this reading (saved with it)."""
        if self.occupancy is None:
            return []
        # ins first (in ``counted``): a reading's order inside its period is unknown, and outs must not hit 0 early
        return self.occupancy.counted(*delta, now, DoorReading(sensor_id, count_in, count_out))

    def tick(self, now: float) -> list[Event]:
        """Events for every interval that has ended by ``now``; the daily reset even before the first reading."""
        events: list[Event] = []
        while self.start is not None:
            end = self._boundary(self.start) + self.interval_s
            if now < end:
                break
            events += self._emit(self.start, end)
            self.start = end
        if self.occupancy is not None:
            events += self.occupancy.step(now)  # the daily reset, after the intervals it belongs after
        return events

    def flush(self, now: float) -> list[Event]:
        """Emit the running (partial) interval up to ``now``."""
        events = self.tick(now)
        if self.start is not None and now > self.start:
            events += self._emit(self.start, now)
            self.start = now
        return events

    def _emit(self, start: float, end: float) -> list[Event]:
        """The footfall event of [start, end) (and store occupancy, if kept) and a fresh count."""
        data = FootfallData(line=self.line, interval_start=rfc3339(start), interval_s=round(end - start, 3),
                            in_=self.people_in, out=self.people_out, source="serial_counter",
                            **(self.retail.fields(start, end, self.people_in) if self.retail is not None else {}))
        self.people_in = self.people_out = 0
        if self.occupancy is None:
            return [Event("footfall", end, data)]
        return [Event("footfall", end, data), *self.occupancy.periodic(end)]  # a shared count: one door publishes
