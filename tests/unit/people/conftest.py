"""Synthetic tracks for the people rules."""

from __future__ import annotations

import numpy as np

from gateway.vision.tracker import Track


def track(track_id: int, box: tuple[float, float, float, float], t: float = 0.0,
          signature: np.ndarray | None = None) -> Track:
    """A confirmed track at ``box`` seen at ``t``."""
    return Track(track_id, box, 0.9, t, t, hits=5, confirmed=True, signature=signature)
