"""A ByteTrack-style multi-object tracker (our own, MIT-compatible; SORT is GPL, boxmot AGPL).

Detections above ``high_score`` are matched to tracks first (greedy against each track's
constant-velocity prediction), then the low-score ones recover tracks that the first pass left
unmatched — that second pass is what keeps people through partial occlusion. A pair must overlap
by ``match_iou``; among the pairs that do, the greedy order is IoU less ``appearance_weight``
times the colour-layout distance (``gateway.vision.appearance``) per 100 units, so when two
people's boxes meet, each track keeps the person who looks like it rather than the nearer box.
A track's signature is a running mean, left alone while its box overlaps another track's. A
track is *confirmed* after ``min_hits`` matches and removed ``max_age_s`` after its last match.

Unlike ByteTrack, a low-score detection that no track took and that overlaps no track or
high-score box may start a track too (score at least ``low_birth_score``), which then needs
``low_birth_hits`` matches to be confirmed: people half hidden in a group are scored 0.3-0.5 by
a small detector for as long as they stay in it, and would otherwise never be tracked at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]


def appearance_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean per-cell CIELAB distance of every signature in ``a`` [N,S] to every one in ``b`` [M,S]; NaN if unknown."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    diff = a.reshape(len(a), 1, -1, 3) - b.reshape(1, len(b), -1, 3)
    return np.sqrt((diff**2).sum(axis=3)).mean(axis=2)


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
    signature: np.ndarray | None = None
    """Running mean colour layout (RAM only, dies with the track)."""
    needed_hits: int = 0
    """Matches before confirmation (0: the tracker's min_hits)."""

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

    def learn(self, signature: np.ndarray, momentum: float) -> None:
        """Fold a new, unoccluded view into the running signature."""
        if np.isnan(signature).any():
            return
        if self.signature is None:
            self.signature = signature.copy()
        else:
            self.signature = momentum * self.signature + (1.0 - momentum) * signature


class ByteTracker:
    """Associates detections frame to frame."""

    def __init__(self, *, high_score: float = 0.5, low_score: float = 0.2, match_iou: float = 0.3,
                 low_match_iou: float = 0.5, min_hits: int = 3, max_age_s: float = 1.0,
                 appearance_weight: float = 2.0, signature_momentum: float = 0.8,
                 unknown_distance: float = 30.0, low_birth_score: float | None = 0.35,
                 low_birth_hits: int = 8, low_birth_iou: float = 0.2) -> None:
        self.high_score = high_score
        self.low_score = low_score
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.min_hits = min_hits
        self.max_age_s = max_age_s
        self.appearance_weight = appearance_weight
        self.signature_momentum = signature_momentum
        self.unknown_distance = unknown_distance
        self.low_birth_score = low_birth_score
        self.low_birth_hits = low_birth_hits
        self.low_birth_iou = low_birth_iou
        """Distance assumed when either signature is unknown (a sliver of a box)."""
        self.tracks: list[Track] = []
        self._next_id = 1

    @staticmethod
    def _greedy(iou: np.ndarray, order_score: np.ndarray, threshold: float) -> list[tuple[int, int]]:
        """Pairs (row, col) with IoU above ``threshold``, best ``order_score`` first, each row and column once."""
        pairs: list[tuple[int, int]] = []
        if iou.size == 0:
            return pairs
        order = np.argsort(-np.where(iou >= threshold, order_score, -np.inf), axis=None, kind="stable")
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

    def _order_score(self, iou: np.ndarray, tracks: list[Track], signatures: np.ndarray | None) -> np.ndarray:
        """IoU less the weighted appearance distance (IoU alone without signatures)."""
        if signatures is None or self.appearance_weight == 0 or iou.size == 0:
            return iou
        known = [i for i, t in enumerate(tracks) if t.signature is not None]
        distance = np.full(iou.shape, self.unknown_distance, dtype=np.float32)
        if known:
            measured = appearance_distance(np.stack([tracks[i].signature for i in known]), signatures)  # type: ignore[misc]
            distance[known] = np.where(np.isnan(measured), self.unknown_distance, measured)
        return iou - self.appearance_weight * distance / 100.0

    def update(self, detections: np.ndarray, now: float,
               signatures: np.ndarray | None = None) -> tuple[list[Track], list[Track]]:
        """Feed detections [N,5] (x1,y1,x2,y2,score) and their signatures [N,S] at ``now``.

        Returns (active tracks, removed tracks).
        """
        detections = detections.reshape(-1, 5) if len(detections) else np.zeros((0, 5), dtype=np.float32)
        high_mask = detections[:, 4] >= self.high_score
        low_mask = (detections[:, 4] >= self.low_score) & ~high_mask
        high, low = detections[high_mask], detections[low_mask]
        high_sig = signatures[high_mask] if signatures is not None else None
        low_sig = signatures[low_mask] if signatures is not None else None
        predicted = np.array([t.predict(now) for t in self.tracks], dtype=np.float32).reshape(-1, 4)
        crowded = iou_matrix(predicted, predicted)
        np.fill_diagonal(crowded, 0.0)
        crowded_rows = set(np.nonzero(crowded.max(axis=1, initial=0.0) > self.match_iou)[0].tolist())
        matches: list[tuple[int, int, np.ndarray | None]] = []
        iou = iou_matrix(predicted, high[:, :4])
        for r, c in self._greedy(iou, self._order_score(iou, self.tracks, high_sig), self.match_iou):
            self.tracks[r].update(tuple(map(float, high[c, :4])), float(high[c, 4]), now)  # type: ignore[arg-type]
            matches.append((r, c, high_sig[c] if high_sig is not None else None))
        matched_high = {c for _, c, _ in matches}
        unmatched = [i for i in range(len(self.tracks)) if self.tracks[i].last_time != now]
        matched_low: set[int] = set()
        if len(low) and unmatched:
            rest = predicted[unmatched]
            iou = iou_matrix(rest, low[:, :4])
            score = self._order_score(iou, [self.tracks[i] for i in unmatched], low_sig)
            for r, c in self._greedy(iou, score, self.low_match_iou):
                track = self.tracks[unmatched[r]]
                track.update(tuple(map(float, low[c, :4])), float(low[c, 4]), now)  # type: ignore[arg-type]
                matches.append((unmatched[r], c, low_sig[c] if low_sig is not None else None))
                matched_low.add(c)
        births: list[Track] = []
        if self.low_birth_score is not None and len(low):
            taken = [t.box for t in self.tracks] + [tuple(map(float, high[c, :4])) for c in range(len(high))]
            for c in np.argsort(-low[:, 4], kind="stable").tolist():
                if c in matched_low or low[c, 4] < self.low_birth_score:
                    continue
                box = tuple(map(float, low[c, :4]))
                if taken and iou_matrix(np.array([box], dtype=np.float32),
                                        np.array(taken, dtype=np.float32)).max() > self.low_birth_iou:
                    continue  # someone already tracked or just born here
                taken.append(box)
                track = Track(0, box, float(low[c, 4]), now, now, needed_hits=self.low_birth_hits)  # type: ignore[arg-type]
                if low_sig is not None:
                    track.learn(low_sig[c], self.signature_momentum)
                births.append(track)
        for r, _, signature in matches:
            if signature is not None and r not in crowded_rows:
                self.tracks[r].learn(signature, self.signature_momentum)
        for c in range(len(high)):
            if c not in matched_high:
                box = tuple(map(float, high[c, :4]))
                track = Track(self._next_id, box, float(high[c, 4]), now, now)  # type: ignore[arg-type]
                if high_sig is not None:
                    track.learn(high_sig[c], self.signature_momentum)
                self.tracks.append(track)
                self._next_id += 1
        for track in births:
            track.id = self._next_id
            self._next_id += 1
            self.tracks.append(track)
        removed = [t for t in self.tracks if now - t.last_time > self.max_age_s]
        self.tracks = [t for t in self.tracks if now - t.last_time <= self.max_age_s]
        for track in self.tracks:
            if track.hits >= (track.needed_hits or self.min_hits):
                track.confirmed = True
        return self.tracks, removed
