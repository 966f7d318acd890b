"""Colour-layout signatures: alike for the same clothes, apart for different ones, unknown for slivers."""

from __future__ import annotations

import numpy as np

from gateway.vision.appearance import SIZE, signatures
from gateway.vision.tracker import appearance_distance


def figure(frame: np.ndarray, x: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> list[float]:
    """Paint a 40x120 person (coat over trousers, BGR) at column x; its detection box."""
    frame[100:160, x:x + 40] = top
    frame[160:220, x:x + 40] = bottom
    return [x, 100, x + 40, 220, 0.9]


def test_same_clothes_match_and_different_clothes_do_not() -> None:
    frame = np.full((300, 400, 3), 128, dtype=np.uint8)
    boxes = np.array([figure(frame, 20, (30, 30, 200), (40, 40, 40)),   # red coat, dark trousers
                      figure(frame, 120, (30, 30, 200), (40, 40, 40)),  # the same clothes elsewhere
                      figure(frame, 220, (40, 40, 40), (200, 120, 60)),  # dark coat, jeans
                      [300, 10, 301, 11, 0.5]], dtype=np.float32)       # a sliver
    sig = signatures(frame, boxes)
    assert sig.shape == (4, SIZE)
    distance = appearance_distance(sig[:3], sig[:3])
    assert distance[0, 1] < 1.0
    assert distance[0, 2] > 40.0
    assert np.isnan(sig[3]).all()


def test_the_layout_matters_not_just_the_colours() -> None:
    frame = np.full((300, 400, 3), 128, dtype=np.uint8)
    boxes = np.array([figure(frame, 20, (30, 30, 200), (200, 120, 60)),
                      figure(frame, 120, (200, 120, 60), (30, 30, 200))], dtype=np.float32)
    sig = signatures(frame, boxes)
    assert appearance_distance(sig[:1], sig[1:])[0, 0] > 40.0
