"""Camera pipeline speed: processed frames/s at 768x576 on one core, stage times, pipeline/inference ratio, RSS.

Run:  .venv/bin/python bench/bench_vision_pipeline.py [VIDEO] [--demographics]   (default: TUD-Stadtmitte)
The video's frames are upscaled to 768x576 (the issue's resolution) and decoded once up front
(decode is timed separately); the engine (motion gate, NanoDet-m with one onnxruntime thread,
tracker and counting) then runs on every frame, pinned to one core with sched_setaffinity.
Raw detector inference is timed on the same frames in the same run. RSS is VmRSS of this process
after a first pass that streams 60 frames through the engine, as the daemon does.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2

from gateway.devices.camera.config import DemographicsConfig
from gateway.vision.geometry import CountingLine, Zone
from gateway.vision.setup import build_engine

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """VmRSS of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    """Measure and print."""
    os.sched_setaffinity(0, {0})
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    video = args[0] if args else str(ROOT.parent / "shared/benchmarks/footfall/TUD-Stadtmitte/"
                                                                    "TUD-Stadtmitte.mp4")
    line = CountingLine("door", (384, 0), (384, 576), (700, 288))
    zone = Zone("entrance", ((0, 0), (384, 0), (384, 576), (0, 576)))
    demographics = DemographicsConfig(enabled=True, k=10, interval_s=60.0)
    engine = build_engine([line], [zone], interval_s=5.0, threads=1, demographics=demographics)
    capture = cv2.VideoCapture(video)  # streaming pass, as the daemon runs, for the memory figure
    for i in range(60):
        ok, image = capture.read()
        if not ok:
            break
        engine.process(cv2.resize(image, (768, 576)), i / 25.0)
    rss = rss_mb()
    capture = cv2.VideoCapture(video)
    frames = []
    t0 = time.perf_counter()
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, (768, 576)))
    decode_ms = (time.perf_counter() - t0) / max(len(frames), 1) * 1000
    engine = build_engine([line], [zone], interval_s=5.0, threads=1,
                          demographics=demographics if "--demographics" in sys.argv else None)
    engine.process(frames[0], 0.0)  # warm-up
    engine.stage_s.clear()
    engine.frames = engine.detected_frames = 0
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        engine.process(frame, (i + 1) / 25.0)
    total = time.perf_counter() - start
    tensors = [engine.detector.preprocess(f) for f in frames]
    start = time.perf_counter()
    for tensor in tensors:
        engine.detector.infer(tensor)
    inference = time.perf_counter() - start
    n = len(frames)
    del frames, tensors
    print(f"{Path(video).name}: {n} frames at 768x576, one core, onnxruntime 1 thread")
    print(f"processed {n / total:.1f} frames/s (detector ran on {engine.detected_frames} of {engine.frames} frames "
          f"after motion gating); raw inference alone {n / inference:.1f} frames/s; "
          f"ratio pipeline/inference time {total / inference:.2f} (per detector run: "
          f"{total / max(engine.detected_frames, 1) / (inference / n):.2f})")
    stages = {"decode": decode_ms, **{k: v / n * 1000 for k, v in engine.stage_s.items()}}
    print("ms per frame by stage: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"RSS while streaming frames through the camera pipeline with every model loaded (detector, faces, "
          f"age, gender; demographics on): {rss:.0f} MB")


if __name__ == "__main__":
    main()
