"""Motion gating: a frame too similar to the last detected one skips the detector."""

from __future__ import annotations

import numpy as np


class MotionGate:
    """Compares small grey thumbnails; ``changed(frame)`` is True when enough pixels moved."""

    def __init__(self, threshold: float = 0.003, pixel_delta: int = 18, size: tuple[int, int] = (160, 120),
                 max_skip: int = 10) -> None:
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.size = size
        self.max_skip = max_skip
        self._reference: np.ndarray | None = None
        self._skipped = 0

    def changed(self, frame: np.ndarray) -> bool:
        """True if the detector should run on this frame (and make it the new reference)."""
        import cv2

        thumb = cv2.cvtColor(cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        if self._reference is None or self._skipped >= self.max_skip:
            moved = True
        else:
            diff = cv2.absdiff(thumb, self._reference)
            moved = float(np.count_nonzero(diff > self.pixel_delta)) / diff.size > self.threshold
        if moved:
            self._reference = thumb
            self._skipped = 0
        else:
            self._skipped += 1
        return moved
