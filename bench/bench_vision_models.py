"""Raw inference time per model on one core, and RSS with every model loaded.

Run: .venv/bin/python bench/bench_vision_models.py [--runs N]
Each session has intra_op_num_threads=1 (one core); the detector input is a 768x576 frame
(scikit-image's public-domain astronaut upscaled) resized by PersonDetector.preprocess to 416x416.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import cv2
import numpy as np

from gateway.vision.age_gender import AgeGenderEstimator
from gateway.vision.detector import PersonDetector
from gateway.vision.faces import FaceDetector
from gateway.vision.models import session


def frame_768x576() -> np.ndarray:
    """A real 768x576 BGR frame (skimage astronaut when installed, else noise)."""
    try:
        from skimage import data

        image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    except ImportError:
        image = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    return cv2.resize(image, (768, 576))


def median_ms(call: object, runs: int) -> float:
    """Median wall time of `call()` in milliseconds after two warm-up runs."""
    for _ in range(2):
        call()  # type: ignore[operator]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print ms per inference per model and peak RSS."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    frame = frame_768x576()
    detector = PersonDetector(session("person-detector", threads=1))
    faces = FaceDetector(session("face-detector", threads=1))
    estimator = AgeGenderEstimator(session("age", threads=1), session("gender", threads=1))
    tensor = detector.preprocess(frame)
    found = faces.detect(frame)
    print(f"one core (intra_op=1), median of {runs} runs, 768x576 frame")
    print(f"person detector raw inference : {median_ms(lambda: detector.infer(tensor), runs):7.2f} ms")
    print(f"person detector detect() total: {median_ms(lambda: detector.detect(frame), runs):7.2f} ms")
    print(f"face detector detect()        : {median_ms(lambda: faces.detect(frame), runs):7.2f} ms")
    if found:
        face = found[0]
        print(f"age+gender estimate (1 face)  : {median_ms(lambda: estimator.estimate(frame, face), runs):7.2f} ms")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS with all four models loaded and run: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
