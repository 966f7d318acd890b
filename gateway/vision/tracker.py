"""A ByteTrack-style multi-object tracker (our own, MIT-compatible; SORT is GPL, boxmot AGPL).

Detections above ``high_score`` are matched to tracks first (greedy by IoU against each track's
constant-velocity prediction), then the low-score ones recover tracks that the first pass left
unmatched — that second pass is what keeps people through partial occlusion. A track is
*confirmed* after ``min_hits`` matches and removed ``max_age_s`` after its last match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` [N,4] with every box in ``b`` [M,4]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


@dataclass
class Track:
    """One tracked person."""

    id: int
    box: Box
    score: float
    last_time: float
    first_time: float
    hits: int = 1
    confirmed: bool = False
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    history: list[tuple[float, Box]] = field(default_factory=list)

    def predict(self, now: float) -> Box:
        """Where the box should be at ``now`` if it kept its velocity."""
        dt = now - self.last_time
        return tuple(c + v * dt for c, v in zip(self.box, self.velocity, strict=True))  # type: ignore[return-value]

    def update(self, box: Box, score: float, now: float) -> None:
        """A matched detection."""
        dt = now - self.last_time
        if dt > 0:
            new_velocity = tuple((n - o) / dt for n, o in zip(box, self.box, strict=True))
            self.velocity = tuple(0.6 * nv + 0.4 * ov for nv, ov in zip(new_velocity, self.velocity, strict=True))  # type: ignore[assignment]
        self.box = box
        self.score = score
        self.last_time = now
        self.hits += 1


class ByteTracker:
    """Associates detections frame to frame."""

    def __init__(self, *, high_score: float = 0.5, low_score: float = 0.2, match_iou: float = 0.3,
                 low_match_iou: float = 0.5, min_hits: int = 3, max_age_s: float = 1.0) -> None:
        self.high_score = high_score
        self.low_score = low_score
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.min_hits = min_hits
        self.max_age_s = max_age_s
        self.tracks: list[Track] = []
        self._next_id = 1

    @staticmethod
    def _greedy(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
        """Pairs (row, col) by descending IoU above ``threshold``, each row and column once."""
        pairs: list[tuple[int, int]] = []
        if iou.size == 0:
            return pairs
        order = np.argsort(-iou, axis=None)
        used_rows: set[int] = set()
        used_cols: set[int] = set()
        for flat in order:
            r, c = divmod(int(flat), iou.shape[1])
            if iou[r, c] < threshold:
                break
            if r in used_rows or c in used_cols:
                continue
            pairs.append((r, c))
            used_rows.add(r)
            used_cols.add(c)
        return pairs

    def update(self, detections: np.ndarray, now: float) -> tuple[list[Track], list[Track]]:
        """Feed detections [N,5] (x1,y1,x2,y2,score) at ``now``; returns (active tracks, removed tracks)."""
        detections = detections.reshape(-1, 5) if len(detections) else np.zeros((0, 5), dtype=np.float32)
        high = detections[detections[:, 4] >= self.high_score]
        low = detections[(detections[:, 4] >= self.low_score) & (detections[:, 4] < self.high_score)]
        predicted = np.array([t.predict(now) for t in self.tracks], dtype=np.float32).reshape(-1, 4)
        unmatched = list(range(len(self.tracks)))
        matched_high: set[int] = set()
        for r, c in self._greedy(iou_matrix(predicted, high[:, :4]), self.match_iou):
            self.tracks[r].update(tuple(map(float, high[c, :4])), float(high[c, 4]), now)  # type: ignore[arg-type]
            unmatched.remove(r)
            matched_high.add(c)
        if len(low) and unmatched:
            rest = predicted[unmatched]
            for r, c in self._greedy(iou_matrix(rest, low[:, :4]), self.low_match_iou):
                track = self.tracks[unmatched[r]]
                track.update(tuple(map(float, low[c, :4])), float(low[c, 4]), now)  # type: ignore[arg-type]
            unmatched = [i for i in unmatched if self.tracks[i].last_time != now]
        for c in range(len(high)):
            if c not in matched_high:
                box = tuple(map(float, high[c, :4]))
                self.tracks.append(Track(self._next_id, box, float(high[c, 4]), now, now))  # type: ignore[arg-type]
                self._next_id += 1
        removed = [t for t in self.tracks if now - t.last_time > self.max_age_s]
        self.tracks = [t for t in self.tracks if now - t.last_time <= self.max_age_s]
        for track in self.tracks:
            if track.hits >= self.min_hits:
                track.confirmed = True
        return self.tracks, removed
