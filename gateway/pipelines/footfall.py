"""Camera footfall: detections per frame -> tracks -> line crossings, zone occupancy and dwell.

Pure: frames are already detections, and time comes in as ``now``. A person's position is the
bottom centre of their box. A crossing counts when a *confirmed* track's stable side of a line
flips: the point must be ``hysteresis_px`` beyond the line for ``confirm_frames`` updates in a
row, and the way from its last stable position must pass through the segment — so box jitter
at the line never counts and a person who turns back before crossing never counts. A track that
ends just past a line near the frame edge (where the hysteresis cannot be reached) is counted
when it ends. A new track that appears where a confirmed one was lost a moment ago (an id
switch) continues that track's side of each line, so the crossing is counted once, not missed.

Retail figures ride on the same crossings (each rule in its own module): crossing rules
(``rules``, e.g. staff and child) move a crossing from ``in``/``out`` to ``staff_*``/``child_*``;
groups of customers (``groups.py``); passers-by on an outside line or zone and U-turns at the
door (``passersby.py``); store occupancy from in - out (``occupancy.py``). ``crossings`` keeps
every counted crossing of the counting lines, whoever made it (accuracy is about people).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gateway.events.envelope import rfc3339
from gateway.events.types.footfall import DwellData, FootfallData, OccupancyData
from gateway.pipelines import Event
from gateway.pipelines.groups import GroupCounter, GroupSettings
from gateway.pipelines.occupancy import Occupancy, OccupancySettings, StoreOccupancy
from gateway.pipelines.passersby import Approach, ShopFront, ZoneTraversals, approach_step, capture_rate
from gateway.vision.geometry import CountingLine, Point, Zone, bottom_centre
from gateway.vision.tracker import ByteTracker, Track

if TYPE_CHECKING:
    from gateway.pipelines.people import CrossingRule


@dataclass
class LineState:
    """One track's relation to one line."""

    side: int = 0
    anchor: Point | None = None
    pending: int = 0
    pending_frames: int = 0
    last: Point | None = None
    early: list[int] = field(default_factory=list)
    """Sides of crossings made before the track was confirmed, counted once it is."""
    trusted: bool = False
    """Continues a confirmed track that was lost a moment ago (an id switch): counts at once."""
    handed_over: bool = False
    """This track's state went to its successor; it must not count again when it ends."""


@dataclass
class FootfallSettings:
    """Counting and interval settings."""

    lines: list[CountingLine]
    zones: list[Zone] = field(default_factory=list)
    interval_s: float = 60.0
    hysteresis_px: float = 6.0
    confirm_frames: int = 2
    reid_s: float = 1.0
    """A new track this soon after a confirmed one vanished nearby continues its line states."""
    groups: dict[str, GroupSettings] = field(default_factory=dict)
    """Per counting line: count groups of customers (buying units) with these settings."""
    shop_fronts: dict[str, ShopFront] = field(default_factory=dict)
    """Per counting line: its outside line or zone (passers-by) and U-turn distance."""
    occupancy: OccupancySettings | None = None
    """Store occupancy from in - out over all counting lines; None: off."""
    rules: list[CrossingRule] = field(default_factory=list)
    """Crossing rules in order; the first that classifies a crossing takes it out of in/out."""


def _height(track: Track) -> float:
    """A track's box height in pixels (never below 1)."""
    return max(track.box[3] - track.box[1], 1.0)


class FootfallPipeline:
    """Counts people crossing lines and staying in zones."""

    def __init__(self, settings: FootfallSettings, tracker: ByteTracker | None = None,
                 occupancy: Occupancy | None = None) -> None:
        """``occupancy``: the store count to keep (the daemon's share of a count several doors keep); without it,
        one of its own from ``settings.occupancy``."""
        self.settings = settings
        self.tracker = tracker or ByteTracker()
        self.states: dict[tuple[int, str], LineState] = {}
        self.counts = {line.name: [0, 0] for line in settings.lines}
        self.totals = {line.name: [0, 0] for line in settings.lines}
        self.zone_entry: dict[tuple[int, str], float] = {}
        self.dwells: dict[str, list[float]] = {zone.name: [] for zone in settings.zones}
        self.interval_start: float | None = None
        self.crossings: list[tuple[str, str, float]] = []
        """(line, "in"|"out", time) of every counted crossing, for accuracy evaluation."""
        self._now = 0.0
        self._outside = {front.outside.name: name for name, front in settings.shop_fronts.items()
                         if front.outside is not None}
        """Outside line name -> the counting line whose passers-by it counts."""
        self._lines = settings.lines + [front.outside for front in settings.shop_fronts.values()
                                        if front.outside is not None]
        self.groups = {name: GroupCounter(group) for name, group in settings.groups.items()}
        self.extra: dict[str, dict[str, int]] = {line.name: defaultdict(int) for line in settings.lines}
        """Per line, this interval's staff_in, child_out, passers_by, u_turns, ..."""
        self.approaches: dict[tuple[int, str], Approach] = {}
        self.traversals = {name: ZoneTraversals(front.outside_zone) for name, front in settings.shop_fronts.items()
                           if front.outside_zone is not None}
        self.occupancy: Occupancy | None = occupancy
        if occupancy is None and settings.occupancy is not None:
            self.occupancy = StoreOccupancy(settings.occupancy)
        self._pending: list[Event] = []
        """Occupancy alerts made while following tracks, returned by the call that made them."""

    # ---- per frame ---------------------------------------------------------------------
    def process(self, detections: np.ndarray, now: float, signatures: np.ndarray | None = None) -> list[Event]:
        """One processed frame's person detections [N,5] and, if measured, their colour signatures."""
        self._now = now
        events = self.tick(now)
        active, removed = self.tracker.update(detections, now, signatures)
        for track in active:
            if track.last_time == now:
                if track.confirmed:
                    for rule in self.settings.rules:
                        rule.observe(track, now)
                self._follow(track, now)
        for track in removed:
            self._end(track)
        if self.occupancy is not None and self.occupancy.settings.empty_zone is not None:
            zone = self.occupancy.settings.empty_zone
            self._pending += self.occupancy.step(now, zone_empty=all(z != zone for (_, z) in self.zone_entry))
        return events + self._drain()

    def _drain(self) -> list[Event]:
        """The alerts made since the last call."""
        events, self._pending = self._pending, []
        return events

    def _follow(self, track: Track, now: float) -> None:
        """Update lines and zones for a track seen in this frame."""
        point = bottom_centre(track.box)
        for line in self._lines:
            self._line_step(track, line, point)
            state = self.states[(track.id, line.name)]
            if track.confirmed and state.early:
                for side in state.early:
                    self._count(track, line.name, side, point)
                state.early.clear()
        if track.confirmed:
            self._shop_front(track, point)
        for zone in self.settings.zones:
            key = (track.id, zone.name)
            inside = track.confirmed and zone.contains(point)
            if inside and key not in self.zone_entry:
                self.zone_entry[key] = now
            elif not inside and key in self.zone_entry:
                self.dwells[zone.name].append(now - self.zone_entry.pop(key))

    def _successor_state(self, track: Track, line: CountingLine, point: Point) -> LineState:
        """A new track's state: inherited from a confirmed track lost nearby a moment ago, if any."""
        best: tuple[float, LineState] | None = None
        for other in self.tracker.tracks:
            if other.id == track.id or not other.confirmed or other.last_time >= self._now:
                continue
            if self._now - other.last_time > self.settings.reid_s:
                continue
            state = self.states.get((other.id, line.name))
            if state is None or state.side == 0 or state.handed_over or state.last is None:
                continue
            height = max(other.box[3] - other.box[1], 1.0)
            distance = math.dist(state.last, point)
            if distance < 0.5 * height and (best is None or distance < best[0]):
                best = (distance, state)
        if best is None:
            return LineState()
        previous = best[1]
        previous.handed_over = True
        return LineState(side=previous.side, anchor=previous.anchor, trusted=True)

    def _line_step(self, track: Track, line: CountingLine, point: Point) -> None:
        """Hysteresis state machine of one track against one line."""
        key = (track.id, line.name)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = self._successor_state(track, line, point)
        state.last = point
        distance = line.signed_distance(point)
        side = 1 if distance > 0 else -1
        if state.side == 0:
            if abs(distance) >= self.settings.hysteresis_px:
                state.side, state.anchor = side, point
            return
        if side == state.side:
            state.pending_frames = 0
            if abs(distance) >= self.settings.hysteresis_px:
                state.anchor = point
            return
        if abs(distance) < self.settings.hysteresis_px:
            return
        state.pending_frames = state.pending_frames + 1 if state.pending == side else 1
        state.pending = side
        if state.pending_frames >= self.settings.confirm_frames:
            crossed = state.anchor is not None and line.crossed_by(state.anchor, point)
            if crossed and (track.confirmed or state.trusted):
                self._count(track, line.name, side, point)
            elif crossed:
                # a person crossing right where they were first seen: counted only if the track
                # turns out to be real (confirmed); a flicker that never confirms never counts
                state.early.append(side)
            state.side, state.anchor, state.pending_frames = side, point, 0

    def _classify(self, track: Track, line: str, direction: str | None) -> str | None:
        """The name of the first rule that claims this track's crossing of ``line`` (or, with direction
        "front", its U-turn or passage at the shop front), if any."""
        for rule in self.settings.rules:
            if rule.classify(track, line, self._now, direction):
                return rule.name
        return None

    def _count(self, track: Track, line: str, side: int, point: Point) -> None:
        """One crossing: towards the inside is `in`; a rule's crossing goes to its own count."""
        direction = "in" if side > 0 else "out"
        owner = self._outside.get(line)
        if owner is not None:
            if self._classify(track, line, direction) is None:
                self.extra[owner]["passers_by"] += 1
            return
        self.crossings.append((line, direction, self._now))
        if self.occupancy is not None:
            change = self.occupancy.enter if side > 0 else self.occupancy.leave
            self._pending += change(1, self._now)
        rule = self._classify(track, line, direction)
        if rule is not None:
            self.extra[line][f"{rule}_{direction}"] += 1
            return
        index = 0 if side > 0 else 1
        self.counts[line][index] += 1
        self.totals[line][index] += 1
        if line in self.groups:
            self.groups[line].add(direction, self._now, point, _height(track))

    def _shop_front(self, track: Track, point: Point) -> None:
        """U-turns at each door and passers-by through each outside zone, for a confirmed track."""
        for line in self.settings.lines:
            front = self.settings.shop_fronts.get(line.name)
            if front is None:
                continue
            if front.u_turn_distance is not None:
                approach = self.approaches.setdefault((track.id, line.name), Approach())
                if (approach_step(approach, line, point, _height(track), front.u_turn_distance)
                        and self._classify(track, line.name, "front") is None):
                    self.extra[line.name]["u_turns"] += 1
            traversal = self.traversals.get(line.name)
            if (traversal is not None and traversal.step(track.id, point)
                    and self._classify(track, line.name, "front") is None):
                self.extra[line.name]["passers_by"] += 1

    def _end(self, track: Track) -> None:
        """A track is gone: late count near frame edges, close its zone stays."""
        for line in self._lines:
            self.approaches.pop((track.id, line.name), None)
            state = self.states.pop((track.id, line.name), None)
            if (state is None or state.last is None or state.anchor is None or not track.confirmed
                    or state.side == 0 or state.handed_over):
                continue
            distance = line.signed_distance(state.last)
            if (1 if distance > 0 else -1) != state.side and line.crossed_by(state.anchor, state.last):
                self._count(track, line.name, -state.side, state.last)
        for name, traversal in self.traversals.items():
            if traversal.end(track.id) and track.confirmed and self._classify(track, name, "front") is None:
                self.extra[name]["passers_by"] += 1
        for rule in self.settings.rules:
            rule.forget(track.id)
        for zone in self.settings.zones:
            entered = self.zone_entry.pop((track.id, zone.name), None)
            if entered is not None:
                self.dwells[zone.name].append(track.last_time - entered)

    # ---- time --------------------------------------------------------------------------
    def tick(self, now: float) -> list[Event]:
        """Events for every interval that has ended by ``now``."""
        step = self.settings.interval_s
        if self.interval_start is None:
            self.interval_start = math.floor(now / step) * step
            return []
        events: list[Event] = []
        while now >= self.interval_start + step:
            events += self._emit(self.interval_start, self.interval_start + step)
            self.interval_start += step
        if self.occupancy is not None:
            self._pending += self.occupancy.step(now)  # after the intervals, so each shows its own count
        return events + self._drain()

    def finish(self, now: float) -> list[Event]:
        """End every track (end of a file or shutdown) and emit the running interval."""
        for track in list(self.tracker.tracks):
            self._end(track)
        self.tracker.tracks = []
        events = self.tick(now)
        if self.interval_start is not None and now > self.interval_start:
            events += self._emit(self.interval_start, now)
            self.interval_start = now
        return events + self._drain()

    def _emit(self, start: float, end: float) -> list[Event]:
        """footfall per line, occupancy and dwell per zone, for [start, end)."""
        events = []
        for name, (count_in, count_out) in self.counts.items():
            events.append(Event("footfall", end, FootfallData(line=name, interval_start=rfc3339(start),
                                                              interval_s=round(end - start, 3), in_=count_in,
                                                              out=count_out, source="camera",
                                                              **self._retail_fields(name, count_in))))
            self.counts[name] = [0, 0]
            self.extra[name] = defaultdict(int)
        if self.occupancy is not None:
            events += self.occupancy.periodic(end)  # none when another door publishes the shared count
        for zone in self.settings.zones:
            present = sum(1 for (_, z) in self.zone_entry if z == zone.name)
            events.append(Event("occupancy", end, OccupancyData(zone=zone.name, count=present)))
            dwells = self.dwells[zone.name]
            events.append(Event("dwell", end, DwellData(
                zone=zone.name, interval_start=rfc3339(start), interval_s=round(end - start, 3), visits=len(dwells),
                mean_s=round(statistics.fmean(dwells), 2) if dwells else None,
                p50_s=round(statistics.median(dwells), 2) if dwells else None,
                p90_s=round(sorted(dwells)[int(0.9 * (len(dwells) - 1))], 2) if dwells else None)))
            self.dwells[zone.name] = []
        return events

    def _retail_fields(self, line: str, count_in: int) -> dict[str, int | float | None]:
        """The optional footfall fields of ``line`` for this interval: only those configured."""
        extra = self.extra[line]
        fields: dict[str, int | float | None] = {}
        for rule in self.settings.rules:
            fields[f"{rule.name}_in"], fields[f"{rule.name}_out"] = extra[f"{rule.name}_in"], extra[f"{rule.name}_out"]
        if line in self.groups:
            fields["groups_in"], fields["groups_out"] = self.groups[line].take()
        front = self.settings.shop_fronts.get(line)
        if front is not None and front.counts_passers_by:
            passers_by = extra["passers_by"]
            fields["passers_by"] = passers_by
            fields["capture_rate"] = capture_rate(count_in, passers_by)
        if front is not None and front.u_turn_distance is not None:
            fields["u_turns"] = extra["u_turns"]
        return fields
