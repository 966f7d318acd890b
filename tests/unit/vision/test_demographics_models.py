"""Faces, age and gender with the real models on a real photo shipped by scikit-image (public domain)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gateway.pipelines.demographics import DemographicsAggregator, age_band
from gateway.vision.age_gender import AgeGenderEstimator
from gateway.vision.demographics_stage import DemographicsStage
from gateway.vision.faces import FaceDetector
from gateway.vision.models import session
from gateway.vision.tracker import Track

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """NASA's portrait of Eileen Collins (public domain), BGR."""
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def test_face_and_landmarks_are_found(astronaut: np.ndarray) -> None:
    faces = FaceDetector(session("face-detector")).detect(astronaut)
    assert len(faces) == 1 and faces[0].score > 0.8
    x1, y1, x2, y2 = faces[0].box
    assert 150 < x1 < 220 and 40 < y1 < 100 and 240 < x2 < 300 and 150 < y2 < 200
    eyes, mouth = faces[0].landmarks[:2], faces[0].landmarks[3:]
    assert (eyes[:, 1] < mouth[:, 1]).all() and eyes[0, 0] < eyes[1, 0]


def test_age_and_gender_are_plausible(astronaut: np.ndarray) -> None:
    face = FaceDetector(session("face-detector")).detect(astronaut)[0]
    age, gender, confidence = AgeGenderEstimator(session("age"), session("gender")).estimate(astronaut, face)  # type: ignore[misc]
    assert gender == "female" and confidence > 0.9
    assert age_band(age) in ("25-34", "35-44", "45-54")  # she was about 42 in this photo


def test_gender_holds_at_the_face_sizes_a_store_camera_sees(astronaut: np.ndarray) -> None:
    half = cv2.resize(astronaut, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # a face ~45 px wide
    face = FaceDetector(session("face-detector")).detect(half)[0]
    assert face.box[2] - face.box[0] < 50
    _, gender, confidence = AgeGenderEstimator(session("age"), session("gender")).estimate(half, face)  # type: ignore[misc]
    assert gender == "female" and confidence > 0.8


def test_stage_estimates_each_track_once_and_publishes_only_k_cells(astronaut: np.ndarray) -> None:
    stage = DemographicsStage(FaceDetector(session("face-detector")),
                              AgeGenderEstimator(session("age"), session("gender")),
                              DemographicsAggregator("door", interval_s=60, k=2, min_confidence=0.5))
    tracks = [Track(id=i, box=(150.0, 30.0, 330.0, 512.0), score=0.9, last_time=1.0, first_time=0.0, confirmed=True)
              for i in (1, 2)]
    stage.process(astronaut, tracks[:1], 1.0)
    stage.process(astronaut, tracks[:1], 1.0)  # the same track again: not estimated twice
    assert stage.attempts == {1: 1}
    stage.process(astronaut, tracks[1:], 1.0)
    events = stage.process(astronaut, [], 61.0)
    data = events[0].data
    assert data.total == 2 and len(data.cells) == 1 and data.cells[0].count == 2  # one person, seen as two tracks
    assert data.suppressed_cells == 0
