"""Footfall accuracy against MOT ground truth: per direction absolute and net accuracy, MAE per interval.

Run:  .venv/bin/python bench/bench_footfall_accuracy.py [DIR ...]   (default ../shared/benchmarks/footfall/*)
For every sequence (video + gt/gt.txt in MOT format) and every counting line below, ground-truth
crossings are the annotated tracks' bottom-centre points passing the line segment between two
consecutive annotated frames (direction = the side it ends on). The real pipeline (NanoDet-m,
tracker, counting) runs on every frame of the video on the video's clock. The comparison is
gateway/audit/report.py's, the same as `storegw audit` in a store (ground truth = the technician's
tally): a counted crossing matches a ground-truth crossing of the same direction within
``--window`` seconds, one to one, as many pairs as possible: absolute accuracy = 1 - (FP + FN) / GT,
net accuracy = 1 - |counted - GT| / GT, per direction; MAE = mean absolute error of per-interval
counts (in and out together) over the clip cut in ``--interval`` periods, the last one shorter.
The evaluation data never enters the repository; only these figures do.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import itertools
import os
import tomllib
from collections import defaultdict
from pathlib import Path

import cv2

from gateway.audit.report import compare
from gateway.vision.geometry import CountingLine, bottom_centre
from gateway.vision.setup import build_engine

ROOT = Path(__file__).resolve().parents[1]
# (name, a, b, inside) in the 640x480 frames of the TUD clips, where people walk across the image
LINES = [("x200", (200, 0), (200, 480), (600, 240)), ("x320", (320, 0), (320, 480), (600, 240)),
         ("x450", (450, 0), (450, 480), (600, 240))]


def ground_truth(gt_file: Path, line: CountingLine, fps: float) -> list[tuple[str, float]]:
    """(direction, time) of every annotated crossing of ``line``."""
    tracks: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = defaultdict(list)
    for row in gt_file.read_text().splitlines():
        parts = row.split(",")
        frame, track, x, y, w, h = int(parts[0]), int(parts[1]), *map(float, parts[2:6])
        if len(parts) > 6 and float(parts[6]) == 0:
            continue  # ignored region
        tracks[track].append((frame, (x, y, x + w, y + h)))
    crossings = []
    for points in tracks.values():
        points.sort()
        for (_, b0), (f1, b1) in itertools.pairwise(points):
            p, q = bottom_centre(b0), bottom_centre(b1)
            if line.crossed_by(p, q) and (line.signed_distance(p) > 0) != (line.signed_distance(q) > 0):
                crossings.append(("in" if line.signed_distance(q) > 0 else "out", (f1 - 1) / fps))
    return crossings


def match(counted: list[tuple[str, float]], truth: list[tuple[str, float]], window: float,
          since: float = 0.0) -> dict[str, dict[str, int]]:
    """TP, FP, FN and totals per direction, of true crossings (and unmatched counts) at or after ``since``.

    The measure of `storegw audit` (gateway/audit/report.py, truth = the technician's tally): matching
    always uses every crossing, so a count just after ``since`` that belongs to a true crossing just
    before it is neither a false positive nor a miss of the later period.
    """
    end = max([since, *(t for _, t in counted), *(t for _, t in truth)])
    report = compare(truth, counted, window, since, end)
    return {d: {"gt": r.manual, "counted": r.device, "tp": r.matched, "fp": r.extra, "fn": r.missed}
            for d, r in report.directions.items()}


def read_frames(video: Path) -> tuple[list[object], float]:
    """Every frame of a video and its frame rate."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    return frames, fps


def mot_cases(folder: Path) -> tuple[str, Path, list[tuple[CountingLine, list[tuple[str, float]] | None]]]:
    """A MOT sequence: its video and the fixed lines, truth derived later from gt/gt.txt."""
    return folder.name, next(folder.glob("*.mp4")), [(CountingLine(n, a, b, i), None) for n, a, b, i in LINES]


def annotated_cases(file: Path) -> tuple[str, Path, list[tuple[CountingLine, list[tuple[str, float]] | None]]]:
    """A clip annotated with crossings per line (bench/annotations/*.toml)."""
    spec = tomllib.loads(file.read_text())
    video = (file.parent.parent / spec["video"]).resolve()
    if not video.exists():
        raise SystemExit(f"{video}: missing; fetch it first (see {file})")
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    if digest != spec["sha256"]:
        raise SystemExit(f"{video}: sha256 {digest}, annotations are for {spec['sha256']}")
    cases = []
    for entry in spec["line"]:
        line = CountingLine(entry["name"], tuple(entry["a"]), tuple(entry["b"]), tuple(entry["inside"]))
        truth = [(d, f / spec["fps"]) for d in ("in", "out") for f in entry[d]]
        cases.append((line, truth))
    return file.stem, video, cases


def run_sequence(name: str, video: Path, cases: list[tuple[CountingLine, list[tuple[str, float]] | None]],
                 args: argparse.Namespace) -> list[dict[str, object]]:
    """Evaluate every line of one clip."""
    frames, fps = read_frames(video)
    results = []
    for line, truth in cases:
        engine = build_engine([line], [], interval_s=3600.0)
        for index, image in enumerate(frames):
            engine.process(image, index / fps)
        engine.pipeline.finish(len(frames) / fps)
        counted = [(d, t) for _, d, t in engine.pipeline.crossings]
        if truth is None:
            truth = ground_truth(video.parent / "gt" / "gt.txt", line, fps)
        if args.verbose:
            print(f"  {name} {line.name} counted: " + " ".join(f"{d}@{t * fps:.0f}" for d, t in sorted(
                counted, key=lambda c: c[1])))
            print(f"  {name} {line.name} truth:   " + " ".join(f"{d}@{t * fps:.0f}" for d, t in sorted(
                truth, key=lambda c: c[1])))
        per_interval = compare(truth, counted, args.window, 0.0, len(frames) / fps, bucket_s=args.interval)
        steady = match(counted, truth, args.window, since=args.warmup)
        results.append({"sequence": name, "line": line.name, "match": match(counted, truth, args.window),
                        "steady": steady, "mae": per_interval.bucket_mae})
    return results


def main() -> None:
    """Print per-line results and the totals."""
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--window", type=float, default=1.0, help="seconds a counted crossing may be off")
    parser.add_argument("--interval", type=float, default=2.0, help="interval for the MAE (s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds at the start of a clip in which a "
                        "tracker cannot know where a person came from; reported separately")
    parser.add_argument("--annotated", nargs="*", default=None, metavar="TOML",
                        help="clips annotated with crossings per line (default: bench/annotations/*.toml whose "
                        "video is present)")
    parser.add_argument("--no-mot", action="store_true", help="only the annotated clips")
    parser.add_argument("--verbose", action="store_true", help="print every counted and true crossing")
    args = parser.parse_args()
    folders = [Path(f) for f in args.folders] or [Path(p) for p in sorted(glob.glob(
        os.path.join(ROOT.parent, "shared", "benchmarks", "footfall", "*"))) if Path(p).is_dir()]
    clips = [] if args.no_mot else [mot_cases(folder) for folder in folders]
    if args.annotated is None:
        for file in sorted((ROOT / "bench" / "annotations").glob("*.toml")):
            if (ROOT / "bench" / tomllib.loads(file.read_text())["video"]).exists():
                clips.append(annotated_cases(file))
            else:
                print(f"{file.name}: video not fetched, skipped (bench/fetch_{file.stem}.sh)")
    else:
        clips += [annotated_cases(Path(f)) for f in args.annotated]
    totals: dict[str, dict[str, int]] = {d: defaultdict(int) for d in ("in", "out")}  # type: ignore[misc]
    steady_totals: dict[str, dict[str, int]] = {d: defaultdict(int) for d in ("in", "out")}  # type: ignore[misc]
    for name, video, cases in clips:
        for result in run_sequence(name, video, cases, args):
            m = result["match"]
            print(f"{result['sequence']:16} {result['line']:5} " + "  ".join(
                f"{d}: gt {m[d]['gt']} counted {m[d]['counted']} fp {m[d]['fp']} fn {m[d]['fn']}"
                for d in ("in", "out"))
                + f"  MAE/{args.interval:g}s {result['mae']:.2f}")
            for d in ("in", "out"):
                for k, v in m[d].items():
                    totals[d][k] += v
                for k, v in result["steady"][d].items():  # type: ignore[index]
                    steady_totals[d][k] += v
    for label, table in (("ALL", totals), (f"AFTER {args.warmup:g}s WARM-UP", steady_totals)):
        for d in ("in", "out"):
            t = table[d]
            if t["gt"]:
                print(f"{label} {d:3}: gt {t['gt']}, counted {t['counted']}, absolute accuracy "
                      f"{1 - (t['fp'] + t['fn']) / t['gt']:.1%}, "
                      f"net accuracy {1 - abs(t['counted'] - t['gt']) / t['gt']:.1%}")


if __name__ == "__main__":
    main()
