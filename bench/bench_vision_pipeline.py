"""Camera pipeline speed: processed frames/s at 768x576 on one core, stage times, pipeline/inference ratio, RSS.

Run:  .venv/bin/python bench/bench_vision_pipeline.py [VIDEO] [--demographics] [--retail]   (default: TUD-Stadtmitte)
The video's frames are upscaled to 768x576 (the issue's resolution) and decoded once up front
(decode is timed separately); the engine (motion gate, NanoDet-m with one onnxruntime thread,
tracker and counting) then runs on every frame, pinned to one core with sched_setaffinity.
Raw detector inference is timed on the same frames in the same run. RSS is VmRSS of this process
after a first pass that streams 60 frames through the engine, as the daemon does.
``--retail`` turns on all of issue 13 through a camera config, as the daemon builds it: groups, an
outside line and U-turns, staff by uniform (a sample taken from a person of the clip itself, so
the rule matches and claims crossings) and by badge (a door scanner's board fed a sighting every
second of video time, strong enough for the door once, at 3 s), children by learnt height, store
occupancy (daily reset, empty zone, limit).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import msgspec
import numpy as np

from gateway.devices.camera.config import CameraConfig, DemographicsConfig
from gateway.pipelines.footfall import FootfallPipeline
from gateway.vision.geometry import CountingLine, Zone
from gateway.vision.setup import build_engine

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """VmRSS of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


BADGE = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
SCANNER = "door-ble"


def retail_camera() -> CameraConfig:
    """The bench's line and zone with every issue 13 option on."""
    return msgspec.convert({
        "id": "bench", "source": "file", "interval_s": 5.0, "group_window_s": 2.0, "group_distance": 1.5,
        "occupancy_reset_at": "22:00", "occupancy_empty_zone": "entrance", "occupancy_limit": 3,
        "children": {"enabled": True, "warmup_tracks": 3},
        "zones": [{"name": "entrance", "polygon": [[0, 0], [384, 0], [384, 576], [0, 576]]}],
        "lines": [{"name": "door", "x1": 384, "y1": 0, "x2": 384, "y2": 576, "inside": [700, 288],
                   "outside": {"x1": 150, "y1": 0, "x2": 150, "y2": 576}, "u_turn_distance": 1.0,
                   "staff": {"uniform": True, "badge_uuid": BADGE, "badge_scanner": SCANNER,
                             "badge_window_s": 1.0}}]}, CameraConfig)


def retail_parts(sample_frame: np.ndarray, detector: Any) -> tuple[Any, list[Any], Any]:
    """Retail settings, crossing rules (a uniform sampled from the clip's first person) and the badge board.

    The sample is measured with the engine's own detector: a second model session would add to RSS.
    """
    from gateway.devices.camera.retail import retail_settings
    from gateway.devices.camera.rules import crossing_rules, set_frame_size
    from gateway.devices.camera.staff_store import UniformSample
    from gateway.devices.signals import BadgeBoard
    from gateway.vision.appearance import signatures

    measured = [s for s in signatures(sample_frame, detector.detect(sample_frame)) if not np.isnan(s).any()]
    uniforms = [UniformSample(name="bench", signature=[float(v) for v in measured[0]], frames=1, taken_at=0.0)]
    cfg, board = retail_camera(), BadgeBoard()
    rules = crossing_rules(cfg, uniforms, board)
    set_frame_size(rules, 768, 576)
    return retail_settings(cfg), rules, board


def with_retail(engine: Any, sample_frame: np.ndarray) -> Any:
    """Turn every issue 13 option on in ``engine``'s pipeline (as build_engine(retail=..., rules=...) would)."""
    settings, rules, board = retail_parts(sample_frame, engine.detector)
    engine.pipeline = FootfallPipeline(dataclasses.replace(
        engine.pipeline.settings, groups=settings.groups, shop_fronts=settings.shop_fronts,
        occupancy=settings.occupancy, rules=rules), engine.pipeline.tracker)
    return board


def main() -> None:
    """Measure and print."""
    os.sched_setaffinity(0, {0})
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    video = args[0] if args else str(ROOT.parent / "shared/benchmarks/footfall/TUD-Stadtmitte/"
                                                                    "TUD-Stadtmitte.mp4")
    line = CountingLine("door", (384, 0), (384, 576), (700, 288))
    zone = Zone("entrance", ((0, 0), (384, 0), (384, 576), (0, 576)))
    demographics = DemographicsConfig(enabled=True, k=10, interval_s=60.0)
    retail = "--retail" in sys.argv
    capture = cv2.VideoCapture(video)
    ok, first = capture.read()
    engine = build_engine([line], [zone], interval_s=5.0, threads=1, demographics=demographics)
    board = with_retail(engine, cv2.resize(first, (768, 576))) if retail else None
    capture = cv2.VideoCapture(video)  # streaming pass, as the daemon runs, for the memory figure
    for i in range(60):
        ok, image = capture.read()
        if not ok:
            break
        if board is not None and i % 25 == 0:
            board.post(SCANNER, BADGE, -90, i / 25.0)  # heard, too weak to be at the door
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
    board = with_retail(engine, frames[0]) if retail else None  # fresh: no evidence from the streaming pass
    engine.process(frames[0], 0.0)  # warm-up
    engine.stage_s.clear()
    engine.frames = engine.detected_frames = 0
    events = []
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        if board is not None and i % 25 == 0:
            board.post(SCANNER, BADGE, -60 if i == 75 else -90, (i + 1) / 25.0)  # at the door once, far otherwise
        events += engine.process(frame, (i + 1) / 25.0)
    total = time.perf_counter() - start
    events += engine.pipeline.finish((len(frames) + 1) / 25.0)
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
    footfall = [e.data for e in events if e.type == "footfall"]
    figures = {k: sum(getattr(d, k) or 0 for d in footfall) for k in (
        "in_", "out", "staff_in", "staff_out", "child_in", "child_out", "groups_in", "passers_by", "u_turns")}
    print(f"retail {'on' if retail else 'off'}: " + ", ".join(f"{k.rstrip('_')} {v}" for k, v in figures.items())
          + f"; occupancy alerts {sum(1 for e in events if e.type == 'occupancy' and getattr(e.data, 'alert', None))}")
    print(f"RSS while streaming frames through the camera pipeline with every model loaded (detector, faces, "
          f"age, gender; demographics on): {rss:.0f} MB")


if __name__ == "__main__":
    main()
