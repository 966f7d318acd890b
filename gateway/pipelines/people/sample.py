"""A uniform's signature from frames of a technician standing in a marked box (``camera staff-sample``).

Per frame, the one person detected in the box gives a colour layout; the sample is the per-value median
over the frames (robust to a frame where someone walks past). Frames with nobody or several people in
the box are counted, not used, so the error can say which it was. People outside the box are measured
too, to say how close the customers come to the uniform. Numbers only: no frame or crop is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gateway.vision.tracker import appearance_distance

Box = tuple[float, float, float, float]


class SampleError(ValueError):
    """No usable sample; the message says why and what to do."""


def inside_share(detections: np.ndarray, box: Box) -> np.ndarray:
    """Share of each detection's area [N] that lies inside ``box``."""
    if len(detections) == 0:
        return np.zeros(0, dtype=np.float32)
    x1 = np.maximum(detections[:, 0], box[0])
    y1 = np.maximum(detections[:, 1], box[1])
    x2 = np.minimum(detections[:, 2], box[2])
    y2 = np.minimum(detections[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (detections[:, 2] - detections[:, 0]) * (detections[:, 3] - detections[:, 1])
    return inter / np.maximum(area, 1e-6)


@dataclass
class UniformSampler:
    """Collects the boxed person's signature frame by frame."""

    box: Box
    min_share: float = 0.6
    """A detection at least this much inside the box is in it."""
    min_frames: int = 5
    signatures: list[np.ndarray] = field(default_factory=list)
    others: list[np.ndarray] = field(default_factory=list)
    empty_frames: int = 0
    crowded_frames: int = 0
    frames: int = 0

    def feed(self, detections: np.ndarray, signatures: np.ndarray) -> None:
        """One frame's detections [N,5] and their signatures [N,S]."""
        self.frames += 1
        share = inside_share(detections, self.box)
        inside = np.nonzero(share >= self.min_share)[0]
        for i in np.nonzero(share < self.min_share)[0]:
            if not np.isnan(signatures[i]).any() and len(self.others) < 1000:
                self.others.append(signatures[i].copy())
        if len(inside) == 0:
            self.empty_frames += 1
        elif len(inside) > 1:
            self.crowded_frames += 1
        elif np.isnan(signatures[inside[0]]).any():
            self.empty_frames += 1  # a box too small to measure is as good as nobody
        else:
            self.signatures.append(signatures[inside[0]].copy())

    def result(self) -> np.ndarray:
        """The median signature; SampleError when too few frames had exactly one person in the box."""
        if len(self.signatures) >= self.min_frames:
            return np.median(np.stack(self.signatures), axis=0).astype(np.float32)
        if self.frames == 0:
            raise SampleError("no frame was read from the camera")
        if self.crowded_frames > self.empty_frames:
            raise SampleError(f"several people were in the box in {self.crowded_frames} of {self.frames} frames: "
                              "only the staff member in uniform may stand in it")
        raise SampleError(f"no person was found in the box in {self.empty_frames} of {self.frames} frames: "
                          "stand fully inside the box, facing the camera, or mark the box with --box")

    def nearest_other(self, signature: np.ndarray) -> float | None:
        """Distance from the sample to the closest person seen outside the box (None if nobody was)."""
        if not self.others:
            return None
        return float(appearance_distance(signature[None, :], np.stack(self.others))[0].min())
