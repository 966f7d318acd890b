"""`storegw vision count VIDEO --line X1,Y1,X2,Y2 --inside X,Y`: the footfall pipeline on a video file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gateway.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `vision` verb."""
    vision = subparsers.add_parser("vision", help="run the footfall pipeline on a video file")
    verbs = vision.add_subparsers(dest="vision_verb", metavar="VERB", required=True)
    count = verbs.add_parser("count", help="count line crossings in a video")
    count.add_argument("video")
    count.add_argument("--line", required=True, metavar="X1,Y1,X2,Y2")
    count.add_argument("--inside", required=True, metavar="X,Y", help="a point on the inside side of the line")
    count.add_argument("--every", type=int, default=1, help="process every Nth frame (default every frame)")
    count.add_argument("--json", action="store_true")
    count.set_defaults(func=count_command)


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
