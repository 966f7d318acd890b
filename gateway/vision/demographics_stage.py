"""Demographics on the camera: one face per confirmed track, estimated once, aggregated, forgotten.

For a confirmed track not yet estimated in this interval, the face detector runs on the upper
part of the person's box; the best face gives an age and gender, which go to the aggregator as a
band and a gender. The crop and the chips are numpy views and temporaries: nothing is stored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gateway.pipelines import Event
from gateway.pipelines.demographics import DemographicsAggregator
from gateway.vision.age_gender import AgeGenderEstimator
from gateway.vision.faces import Face, FaceDetector

HEAD_SHARE = 0.45  # the part of a person box searched for a face


class DemographicsStage:
    """Runs at most ``per_frame`` estimates a frame so the camera keeps its rate."""

    def __init__(self, faces: FaceDetector, estimator: AgeGenderEstimator, aggregator: DemographicsAggregator,
                 per_frame: int = 1, min_face_px: int = 24) -> None:
        self.faces = faces
        self.estimator = estimator
        self.aggregator = aggregator
        self.per_frame = per_frame
        self.min_face_px = min_face_px
        self.attempts: dict[int, int] = {}

    def process(self, frame: np.ndarray, tracks: list[Any], now: float) -> list[Event]:
        """Estimate a few waiting tracks of this frame; returns ended-interval events."""
        events = self.aggregator.tick(now)
        done = 0
        for track in tracks:
            if done >= self.per_frame:
                break
            if not track.confirmed or track.last_time != now or not self.aggregator.needs_estimate(track.id):
                continue
            if self.attempts.get(track.id, 0) >= 5:
                continue  # no usable face after 5 tries: this person stays uncounted, by design
            self.attempts[track.id] = self.attempts.get(track.id, 0) + 1
            done += 1
            estimate = self._estimate(frame, track.box)
            if estimate is not None:
                events += self.aggregator.observe(track.id, *estimate, now)
        if len(self.attempts) > 10_000:
            self.attempts.clear()
        return events

    def _estimate(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, str, float] | None:
        """Age, gender and confidence of the face in a person box, if one is clear enough."""
        height, width = frame.shape[:2]
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(width, int(box[2])), min(height, int(box[1] + (box[3] - box[1]) * HEAD_SHARE))
        if x2 - x1 < self.min_face_px or y2 - y1 < self.min_face_px:
            return None
        crop = frame[y1:y2, x1:x2]
        faces = self.faces.detect(crop)
        if not faces or faces[0].box[2] - faces[0].box[0] < self.min_face_px:
            return None
        face = faces[0]
        shifted = Face((face.box[0] + x1, face.box[1] + y1, face.box[2] + x1, face.box[3] + y1), face.score,
                       face.landmarks + np.array([x1, y1]))
        return self.estimator.estimate(frame, shifted)
