"""`storegw vision count VIDEO ...` and `storegw camera snapshot CAMERA_ID -o FILE.png`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from gateway.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vision` and `camera` verbs."""
    vision = subparsers.add_parser("vision", help="run the footfall pipeline on a video file")
    verbs = vision.add_subparsers(dest="vision_verb", metavar="VERB", required=True)
    count = verbs.add_parser("count", help="count line crossings in a video")
    count.add_argument("video")
    count.add_argument("--line", required=True, metavar="X1,Y1,X2,Y2")
    count.add_argument("--inside", required=True, metavar="X,Y", help="a point on the inside side of the line")
    count.add_argument("--every", type=int, default=1, help="process every Nth frame (default every frame)")
    count.add_argument("--json", action="store_true")
    count.set_defaults(func=count_command)
    camera = subparsers.add_parser("camera", help="aim a camera")
    camera_verbs = camera.add_subparsers(dest="camera_verb", metavar="VERB", required=True)
    snapshot = camera_verbs.add_parser("snapshot", help="one frame with lines, zones and detections; heads blurred")
    snapshot.add_argument("camera_id")
    snapshot.add_argument("-o", "--output", required=True)
    snapshot.add_argument("--config", default=None)
    snapshot.set_defaults(func=snapshot_command)


def numbers(text: str, count: int, what: str) -> list[float]:
    """Parse "a,b,..." into ``count`` numbers."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise CliError(f"bad {what} {text!r}: give {count} comma-separated numbers", 2)
    return values


def count_command(args: argparse.Namespace) -> int:
    """Count crossings in a video file on the file's own clock."""
    import cv2

    from gateway.vision.geometry import CountingLine
    from gateway.vision.models import ModelError
    from gateway.vision.setup import build_engine

    x1, y1, x2, y2 = numbers(args.line, 4, "--line")
    ix, iy = numbers(args.inside, 2, "--inside")
    try:
        line = CountingLine("line", (x1, y1), (x2, y2), (ix, iy))
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        raise CliError(f"cannot open video {args.video}", 2)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    try:
        engine = build_engine([line], [], interval_s=3600.0)
    except ModelError as exc:
        raise CliError(str(exc), 1) from None
    progress = sys.stderr.isatty() and not args.json
    frames = index = 0
    started = time.perf_counter()
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % args.every == 0:
            engine.process(image, index / fps)
            frames += 1
            if progress and frames % 10 == 0:
                done = index / total if total else 0
                sys.stderr.write(f"\r[{'#' * int(done * 30):<30}] {index}/{total} frames  "
                                 f"in {engine.pipeline.totals['line'][0]} out {engine.pipeline.totals['line'][1]}")
        index += 1
    engine.pipeline.finish(index / fps)
    elapsed = time.perf_counter() - started
    if progress:
        sys.stderr.write("\n")
    count_in, count_out = engine.pipeline.totals["line"]
    result: dict[str, Any] = {"in": count_in, "out": count_out, "frames": frames,
                              "fps": round(frames / elapsed, 2) if elapsed else 0.0,
                              "detected_frames": engine.detected_frames,
                              "crossings": [{"direction": d, "t": round(t, 3)}
                                            for _, d, t in engine.pipeline.crossings]}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.video}: in {count_in}, out {count_out} ({frames} frames at {result['fps']} fps, "
              f"detector ran on {engine.detected_frames})")
    return 0


def no_frame_error(camera_id: str, source: str) -> CliError:
    """One sentence that fits the source: a missing file, a stream that will not open, or a busy device."""
    from drivers.camera.driver import safe_source, source_kind

    kind = source_kind(source)
    if kind == "file":
        if not os.path.exists(source):
            return CliError(f"the video file {source} of camera {camera_id} does not exist: "
                            "fix its source in the config (a path on this box)", 1)
        return CliError(f"no frame from the file {source} of camera {camera_id}: "
                        "it is not a video this build of OpenCV can decode", 1)
    if kind == "stream":
        return CliError(f"the stream {safe_source(source)} of camera {camera_id} could not be opened: "
                        "check the URL, the credentials and the network (can this box reach the camera?)", 1)
    if source.startswith("/dev/") and not os.path.exists(source):
        return CliError(f"the camera device {source} of camera {camera_id} does not exist: "
                        "is the camera plugged in (ls /dev/video*)?", 1)
    return CliError(f"no frame from camera {camera_id} ({source}); the daemon may hold the camera: "
                    "stop it (systemctl stop storegw) and try again", 1)


def snapshot_command(args: argparse.Namespace) -> int:
    """Grab one frame of a configured camera and draw what the pipeline sees."""
    # OpenCV and FFmpeg print their own warnings (and FFmpeg may print a URL); the error below says it all
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    from drivers.camera.driver import open_capture, source_kind
    from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
    from gateway.devices.camera.config import CameraConfig
    from gateway.devices.camera.runner import geometry
    from gateway.vision.detector import PersonDetector
    from gateway.vision.draw import annotate
    from gateway.vision.models import ModelError, session

    config = load_or_exit(args.config or DEFAULT_CONFIG)
    camera = next((d for d in config.devices if isinstance(d, CameraConfig) and d.id == args.camera_id), None)
    if camera is None:
        known = ", ".join(d.id for d in config.devices if isinstance(d, CameraConfig)) or "none"
        raise CliError(f"no camera {args.camera_id!r} in the config (cameras: {known})", 2)
    if source_kind(camera.source) == "file" and not os.path.exists(camera.source):
        raise no_frame_error(args.camera_id, camera.source)
    capture = open_capture(camera.source, camera.fps)
    ok, image = capture.read() if capture.isOpened() else (False, None)
    capture.release()
    if not ok:
        raise no_frame_error(args.camera_id, camera.source)
    try:
        detector = PersonDetector(session("person-detector"), score_threshold=camera.score_threshold)
    except ModelError as exc:
        raise CliError(str(exc), 1) from None
    detections = detector.detect(image)
    lines, zones = geometry(camera)
    if not cv2.imwrite(args.output, annotate(image, detections, lines, zones)):
        raise CliError(f"cannot write {args.output}", 1)
    print(f"{args.output}: {len(detections)} people detected; heads blurred")
    return 0
