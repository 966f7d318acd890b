"""Colour-layout signatures of person boxes, so the tracker can keep apart two people whose boxes meet.

A signature is the mean CIELAB colour of each cell of a small grid laid over the middle of a box
(head to feet): what colours a person wears where, nothing that identifies them. It lives in RAM
with its track only while the track lives, and is never stored, logged or published.
"""

from __future__ import annotations

import cv2
import numpy as np

GRID_W, GRID_H = 2, 6
SIZE = GRID_W * GRID_H * 3
MARGIN = 0.2
"""Share of the box width left out on each side, where the background shows."""


def signatures(frame: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """One signature per detection [N, SIZE] (float32); NaN for a box too small to measure."""
    height, width = frame.shape[:2]
    out = np.full((len(detections), SIZE), np.nan, dtype=np.float32)
    for i, (x1, y1, x2, y2) in enumerate(detections[:, :4]):
        inset = (x2 - x1) * MARGIN
        xa, xb = max(int(x1 + inset), 0), min(int(x2 - inset), width)
        ya, yb = max(int(y1), 0), min(int(y2), height)
        if xb - xa < GRID_W or yb - ya < GRID_H:
            continue
        small = cv2.resize(frame[ya:yb, xa:xb], (GRID_W, GRID_H), interpolation=cv2.INTER_AREA)
        out[i] = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).reshape(-1)
    return out
