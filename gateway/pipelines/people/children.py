"""Children by apparent height: a crossing whose box is short for where it stands is a child's.

The adult height comes from the learnt ``HeightModel`` (a perspective line over where the feet are,
with grid statistics standing in; see its module) or a manual override: one ``adult_height_px`` for the
whole frame, or one value per grid row, top to bottom. A crossing is a child's when the median, over
the track's recent frames, of its box height divided by the adult height where its feet were is under
``child_height_share``. Before the model is warm where the track was (and without an override) the rule
never says child: a wrong "child" would take a customer out of ``in``, and the warm-up is short.
Adults' heights are learnt from every confirmed track when it ends: per cell it stood in, the medians
of its feet x, feet y and box height there (boxes cut by the frame left out).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from gateway.pipelines.people.heights import Cell, HeightModel, HeightSettings, Point
from gateway.vision.geometry import bottom_centre
from gateway.vision.tracker import Track


@dataclass(frozen=True)
class ChildSettings:
    """Share, overrides and per-track memory of the child rule."""

    child_height_share: float = 0.75
    adult_height_px: float | None = None
    adult_height_rows: tuple[float, ...] = ()
    """Per grid row, top to bottom (the last value serves rows beyond); used when ``adult_height_px`` is None."""
    heights: HeightSettings = field(default_factory=HeightSettings)
    recent_frames: int = 15
    min_frames: int = 3
    edge_px: float = 2.0
    """A box this near the top (or the bottom, when the frame size is known) is cut: not learnt from."""
    max_tracks: int = 1024
    per_cell_frames: int = 30


class _TrackHeights:
    """One live track's evidence: recent (cell, feet, height) and (feet, height) per cell to learn from."""

    __slots__ = ("by_cell", "recent")

    def __init__(self, recent_frames: int) -> None:
        self.recent: deque[tuple[Cell, float, float, float]] = deque(maxlen=recent_frames)
        self.by_cell: dict[Cell, deque[Point]] = {}


class ChildRule:
    """Classifies crossings as a child's from the box height against the adult height where it stands."""

    name = "child"

    def __init__(self, settings: ChildSettings | None = None, model: HeightModel | None = None) -> None:
        self.settings = settings or ChildSettings()
        self.model = model or HeightModel(self.settings.heights)
        self._tracks: dict[int, _TrackHeights] = {}

    def _cut(self, box: tuple[float, float, float, float]) -> bool:
        """Is the box cut by the frame edge (so shorter than the person)?"""
        edge = self.settings.edge_px
        frame = self.model.settings.frame_size
        return box[1] <= edge or (frame is not None and box[3] >= frame[1] - edge)

    def observe(self, track: Track, now: float) -> None:
        """Keep this frame's box height where the track stands."""
        x, y = bottom_centre(track.box)
        height = track.box[3] - track.box[1]
        if height <= 0:
            return
        evidence = self._tracks.get(track.id)
        if evidence is None:
            if len(self._tracks) >= self.settings.max_tracks:
                self._tracks.pop(next(iter(self._tracks)))  # never forgotten: the oldest goes
            evidence = self._tracks[track.id] = _TrackHeights(self.settings.recent_frames)
        cell = self.model.cell_of(x, y)
        evidence.recent.append((cell, float(x), float(y), float(height)))
        if not self._cut(track.box):
            per_cell = evidence.by_cell.get(cell)
            if per_cell is None:
                per_cell = evidence.by_cell[cell] = deque(maxlen=self.settings.per_cell_frames)
            per_cell.append((float(x), float(y), float(height)))

    def adult_height(self, cell: Cell, x: float, y: float) -> float | None:
        """The override if configured, else the learnt height for feet at (x, y) in ``cell`` (None before warm-up)."""
        s = self.settings
        if s.adult_height_px is not None:
            return s.adult_height_px
        if s.adult_height_rows:
            return s.adult_height_rows[min(cell[1], len(s.adult_height_rows) - 1)]
        return self.model.adult_height(x, y)

    def height_share(self, track_id: int) -> float | None:
        """Median of the track's recent box heights over the adult height where it stood; None if unknown."""
        evidence = self._tracks.get(track_id)
        if evidence is None:
            return None
        shares = []
        for cell, x, y, height in evidence.recent:
            adult = self.adult_height(cell, x, y)
            if adult is not None and adult > 0:
                shares.append(height / adult)
        return statistics.median(shares) if len(shares) >= self.settings.min_frames else None

    def classify(self, track: Track, line: str, now: float, direction: str | None = None) -> bool:
        """True when the track is clearly shorter than an adult where it stood; never before warm-up."""
        share = self.height_share(track.id)
        return share is not None and share < self.settings.child_height_share

    def forget(self, track_id: int) -> None:
        """The track ended: learn its feet and height per cell it stood in, then drop its evidence."""
        evidence = self._tracks.pop(track_id, None)
        if evidence is None:
            return
        points = [(statistics.median(p[0] for p in frames), statistics.median(p[1] for p in frames),
                   statistics.median(p[2] for p in frames))
                  for frames in evidence.by_cell.values() if len(frames) >= self.settings.min_frames]
        self.model.add_track(points)

    def tracks_held(self) -> int:
        """Tracks with evidence in RAM (for memory checks)."""
        return len(self._tracks)
