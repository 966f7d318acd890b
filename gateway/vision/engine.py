"""One camera's processing: motion gate -> detector -> colour signatures -> footfall pipeline, timed per stage."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from gateway.pipelines import Event
from gateway.pipelines.footfall import FootfallPipeline
from gateway.vision.appearance import signatures
from gateway.vision.motion import MotionGate


class CameraEngine:
    """Runs the detector only when something moved; still frames reuse the last detections."""

    def __init__(self, detector: Any, pipeline: FootfallPipeline, motion: MotionGate | None = None,
                 demographics: Any = None) -> None:
        self.detector = detector
        self.pipeline = pipeline
        self.demographics = demographics
        """A DemographicsStage when enabled in the config, else None."""
        self.motion = motion or MotionGate()
        self.last_detections = np.zeros((0, 5), dtype=np.float32)
        self.last_signatures: np.ndarray | None = None
        self.stage_s: dict[str, float] = defaultdict(float)
        self.frames = 0
        self.detected_frames = 0

    def process(self, frame: np.ndarray, now: float) -> list[Event]:
        """One frame taken from the camera at ``now``."""
        self.frames += 1
        t0 = time.perf_counter()
        moved = self.motion.changed(frame)
        t1 = time.perf_counter()
        self.stage_s["motion"] += t1 - t0
        if moved:
            height, width = frame.shape[:2]
            tensor = self.detector.preprocess(frame)
            t2 = time.perf_counter()
            outputs = self.detector.infer(tensor)
            t3 = time.perf_counter()
            self.last_detections = self.detector.postprocess(outputs, width, height)
            t4 = time.perf_counter()
            self.last_signatures = signatures(frame, self.last_detections)
            t5 = time.perf_counter()
            self.stage_s["preprocess"] += t2 - t1
            self.stage_s["inference"] += t3 - t2
            self.stage_s["postprocess"] += t4 - t3
            self.stage_s["appearance"] += t5 - t4
            self.detected_frames += 1
            t1 = t5
        events = self.pipeline.process(self.last_detections, now, self.last_signatures)
        t6 = time.perf_counter()
        self.stage_s["track_count"] += t6 - t1
        if self.demographics is not None:
            events += self.demographics.process(frame, self.pipeline.tracker.tracks, now)
            self.stage_s["demographics"] += time.perf_counter() - t6
        return events
