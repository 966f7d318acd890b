"""Footfall accuracy against annotated clips, in the audit's report format: `storegw audit`'s measure on video.

Run:  .venv/bin/python bench/bench_footfall_accuracy.py [DIR ...] [--compact] [--reports DIR] [--retail]
      (default DIR: ../shared/benchmarks/footfall/*, plus bench/annotations/*.toml whose video is fetched)
For every sequence (video + gt/gt.txt in MOT format) and every counting line below, ground-truth
crossings are the annotated tracks' bottom-centre points passing the line segment between two
consecutive annotated frames (direction = the side it ends on); an annotated clip
(bench/annotations/*.toml) lists its crossings per line. The real pipeline (NanoDet-m, tracker,
counting), built from a camera config as the daemon builds it, runs on every frame of the video on
the video's clock. Each line is compared as `storegw audit` compares a technician's tally (here the
annotations) with the device: gateway/audit/report.py's ``compare`` over the whole clip (a counted
crossing matches a true one of the same direction within ``--window`` seconds, one to one, as many
pairs as possible), made into the `audit` event's payload by gateway/audit/payload.py (device = the
sequence, line = the line, tally = "file", window_start = the clip's first frame on the video's
clock, i.e. the epoch) and printed with the audit screen's renderer (``--compact``: the table of
directions only). ``--reports DIR`` writes each line's report as the daemon saves one
(gateway/audit/store.py). The totals are the per-line tallies added up; the same after
``--warmup`` seconds are shown apart (a clip starts mid-crossing; a camera runs on).

``--retail`` builds every line's camera with the issue-13 rules that need no other hardware: groups
(2 s, 1.5 box heights), a shop-front outside line (parallel to the counting line, halfway from it to
the frame edge on the street side) with U-turns (1 box height), and children by learnt height
(``--warmup-tracks``, the daemon's default 20). Children (and staff, none configured here) are taken
out of ``in``/``out`` by design, while the annotations count every person; so each line is reported
twice: every counted crossing (customers + children + staff) against the truth, and the customers
alone (what the daemon hands `storegw audit`: gateway/devices/camera/crossings.py) against it.
The evaluation data never enters the repository; only these figures do.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import itertools
import math
import os
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import msgspec

from gateway.audit.payload import audit_data
from gateway.audit.report import DIRECTIONS, Report, Tally, compare
from gateway.audit.screen import render_report
from gateway.audit.store import SAFE, write_report
from gateway.devices.camera.config import CameraConfig
from gateway.events.types.audit import AuditData
from gateway.vision.geometry import CountingLine, bottom_centre

ROOT = Path(__file__).resolve().parents[1]
# (name, a, b, inside) in the 640x480 frames of the TUD clips, where people walk across the image
LINES = [("x200", (200, 0), (200, 480), (600, 240)), ("x320", (320, 0), (320, 480), (600, 240)),
         ("x450", (450, 0), (450, 480), (600, 240))]
RETAIL_FIGURES = ("staff_in", "staff_out", "child_in", "child_out", "groups_in", "groups_out", "passers_by",
                  "u_turns")

Crossings = list[tuple[str, float]]
Case = tuple[CountingLine, Crossings | None]


def ground_truth(gt_file: Path, line: CountingLine, fps: float) -> Crossings:
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


def line_report(sequence: str, line: str, truth: Crossings, counted: Crossings, duration_s: float,
                window_s: float, interval_s: float, since: float = 0.0) -> tuple[Report, AuditData]:
    """One line's comparison over [since, duration_s] and its `audit` payload, as `storegw audit` makes them."""
    report = compare(truth, counted, window_s, since, duration_s, bucket_s=interval_s)
    return report, audit_data(report, sequence, line, tally="file")


def summed(reports: list[Report]) -> dict[str, Tally]:
    """Per direction, the tallies of every report added up."""
    return {d: sum((r.directions[d] for r in reports), Tally()) for d in DIRECTIONS}


def report_file(folder: Path, data: AuditData, measure: str = "") -> Path:
    """Write ``data`` under ``folder`` exactly as the daemon saves a report; one file per sequence and line."""
    name = SAFE.sub("_", f"{data.device}-{data.line}" + (f"-{measure}" if measure else ""))
    return Path(write_report(str(folder / f"{name}.json"), data))


def total_lines(label: str, tallies: dict[str, Tally]) -> list[str]:
    """The totals' sentences, one per direction that has a truth."""
    lines = []
    for d in DIRECTIONS:
        t = tallies[d]
        if t.manual and t.absolute_accuracy is not None and t.net_accuracy is not None:
            lines.append(f"{label} {d:3}: truth {t.manual}, counted {t.device}, matched {t.matched}, missed "
                         f"{t.missed}, extra {t.extra}, absolute accuracy {t.absolute_accuracy:.1%} "
                         f"({t.manual - t.missed - t.extra}/{t.manual}), net accuracy {t.net_accuracy:.1%}")
    return lines


def read_frames(video: Path) -> tuple[list[Any], float]:
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


def mot_cases(folder: Path) -> tuple[str, Path, list[Case]]:
    """A MOT sequence: its video and the fixed lines, truth derived later from gt/gt.txt."""
    return folder.name, next(folder.glob("*.mp4")), [(CountingLine(n, a, b, i), None) for n, a, b, i in LINES]


def annotated_cases(file: Path) -> tuple[str, Path, list[Case]]:
    """A clip annotated with crossings per line (bench/annotations/*.toml)."""
    spec = tomllib.loads(file.read_text())
    video = (file.parent.parent / spec["video"]).resolve()
    if not video.exists():
        raise SystemExit(f"{video}: missing; fetch it first (see {file})")
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    if digest != spec["sha256"]:
        raise SystemExit(f"{video}: sha256 {digest}, annotations are for {spec['sha256']}")
    cases: list[Case] = []
    for entry in spec["line"]:
        line = CountingLine(entry["name"], tuple(entry["a"]), tuple(entry["b"]), tuple(entry["inside"]))
        truth = [(d, f / spec["fps"]) for d in DIRECTIONS for f in entry[d]]
        cases.append((line, truth))
    return file.stem, video, cases


def outside_segment(line: CountingLine, width: int, height: int) -> dict[str, float]:
    """The shop front's outside line: the counting segment moved to the street side, halfway to the frame edge."""
    (ax, ay), (bx, by) = line.a, line.b
    nx, ny = by - ay, ax - bx  # a normal of the segment
    length = math.hypot(nx, ny)
    nx, ny = nx / length, ny / length
    if line.signed_distance((line.a[0] + nx, line.a[1] + ny)) > line.signed_distance(line.a):
        nx, ny = -nx, -ny  # towards the street (away from the inside)
    mx, my = (ax + bx) / 2, (ay + by) / 2
    reach = min(((width - 1 - mx) / nx if nx > 0 else -mx / nx) if nx else math.inf,
                ((height - 1 - my) / ny if ny > 0 else -my / ny) if ny else math.inf)
    shift = reach / 2

    def clamp(v: float, top: int) -> float:
        """A coordinate inside the frame."""
        return min(max(v, 0.0), top - 1.0)

    return {"x1": clamp(ax + nx * shift, width), "y1": clamp(ay + ny * shift, height),
            "x2": clamp(bx + nx * shift, width), "y2": clamp(by + ny * shift, height)}


def camera_config(sequence: str, video: Path, line: CountingLine, size: tuple[int, int], retail: bool = False,
                  warmup_tracks: int = 20) -> CameraConfig:
    """A camera config counting ``line``; ``retail``: groups, an outside line with U-turns, children by height."""
    entry: dict[str, Any] = {"name": line.name, "x1": line.a[0], "y1": line.a[1], "x2": line.b[0],
                             "y2": line.b[1], "inside": list(line.inside)}
    spec: dict[str, Any] = {"id": sequence, "source": str(video), "interval_s": 3600.0, "lines": [entry]}
    if retail:
        entry.update(outside=outside_segment(line, *size), u_turn_distance=1.0)
        spec.update(group_window_s=2.0, group_distance=1.5,
                    children={"enabled": True, "warmup_tracks": warmup_tracks})
    return msgspec.convert(spec, CameraConfig)


class _Feed:
    """Stands in for DeviceContext.crossed: keeps the customer crossings the camera tells `storegw audit`."""

    def __init__(self) -> None:
        """No crossing yet."""
        self.crossings: Crossings = []

    def crossed(self, line: str, direction: str, t_from: float, t_to: float | None = None, people: int = 1) -> None:
        """``people`` customers crossed at ``t_from`` (0: a mark that nobody did)."""
        self.crossings += [(direction, t_from)] * people


@dataclass
class LineRun:
    """What one camera counted on one line of a clip."""

    everyone: Crossings
    """Every counted crossing: customers, children and staff (``pipeline.crossings``)."""
    customers: Crossings
    """The crossings that went to ``in``/``out``, as the camera tells them to `storegw audit`."""
    figures: Counter[str] = field(default_factory=Counter)
    """The issue-13 fields of its footfall events, summed over the clip."""


def run_line(frames: list[Any], fps: float, cfg: CameraConfig) -> LineRun:
    """Run a camera built from ``cfg`` as the daemon's runner builds it, on every frame, on the video's clock."""
    from gateway.devices.camera.crossings import CustomerCrossings
    from gateway.devices.camera.retail import retail_settings
    from gateway.devices.camera.rules import crossing_rules, set_frame_size
    from gateway.devices.camera.runner import geometry
    from gateway.vision.setup import build_engine

    lines, zones = geometry(cfg)
    rules = crossing_rules(cfg)
    if frames:
        set_frame_size(rules, frames[0].shape[1], frames[0].shape[0])
    engine = build_engine(lines, zones, interval_s=cfg.interval_s, score_threshold=cfg.score_threshold,
                          hysteresis_px=cfg.hysteresis_px, threads=cfg.threads, demographics=cfg.demographics,
                          retail=retail_settings(cfg), rules=rules)
    feed, audit = _Feed(), CustomerCrossings(engine.pipeline)
    events = []
    for index, image in enumerate(frames):
        events += engine.process(image, index / fps)
        audit.report(feed, index / fps)  # type: ignore[arg-type]
    events += engine.pipeline.finish(len(frames) / fps)
    audit.report(feed, len(frames) / fps)  # type: ignore[arg-type]
    figures: Counter[str] = Counter()
    for event in events:
        if event.type == "footfall":
            figures.update({k: getattr(event.data, k) or 0 for k in RETAIL_FIGURES})
    return LineRun([(d, t) for _, d, t in engine.pipeline.crossings], feed.crossings, figures)


def moved(run: LineRun, tolerance_s: float = 0.0) -> Crossings:
    """Counted crossings no customer crossing of their direction within ``tolerance_s`` stands for: a rule's."""
    # a track ended by `finish` is told to the audit at the finish time, a frame after its crossing
    everyone = sorted(run.everyone, key=lambda c: c[1])
    used = [False] * len(everyone)
    for direction, t in sorted(run.customers, key=lambda c: c[1]):
        near = [(abs(t - e[1]), k) for k, e in enumerate(everyone)
                if not used[k] and e[0] == direction and abs(t - e[1]) <= tolerance_s]
        if near:
            used[min(near)[1]] = True
    return [c for c, u in zip(everyone, used, strict=True) if not u]


def listed(crossings: Crossings, fps: float) -> str:
    """Crossings as direction@frame, in time order."""
    return " ".join(f"{d}@{t * fps:.0f}" for d, t in sorted(crossings, key=lambda c: c[1]))


@dataclass
class Totals:
    """Whole-clip and after-warm-up reports of one measure, over every line."""

    whole: list[Report] = field(default_factory=list)
    steady: list[Report] = field(default_factory=list)


def evaluate(sequence: str, line: str, truth: Crossings, counted: Crossings, duration_s: float,
             args: argparse.Namespace, totals: Totals, measure: str = "") -> AuditData:
    """Compare one line, keep its reports for the totals, write it under ``--reports``; its payload."""
    report, data = line_report(sequence, line, truth, counted, duration_s, args.window, args.interval)
    steady, _ = line_report(sequence, line, truth, counted, duration_s, args.window, args.interval,
                            since=min(args.warmup, duration_s))
    totals.whole.append(report)
    totals.steady.append(steady)
    if args.reports is not None:
        report_file(args.reports, data, measure)
    return data


def show(console: Any, data: AuditData, compact: bool, heading: str = "") -> None:
    """Print one line's report with the audit's renderer (compact: its table of directions only)."""
    if heading:
        console.print(heading)
    rendered = render_report(data)
    if compact:
        console.print(rendered.renderables[0])
        console.print(f"  MAE per {data.bucket_s:g} s: {data.bucket_mae}")
    else:
        console.print(rendered)
        console.print(f"MAE per {data.bucket_s:g} s (both directions): {data.bucket_mae}")


def run_sequence(name: str, video: Path, cases: list[Case], args: argparse.Namespace, console: Any,
                 totals: dict[str, Totals]) -> None:
    """Evaluate and print every line of one clip."""
    frames, fps = read_frames(video)
    size = (frames[0].shape[1], frames[0].shape[0]) if frames else (0, 0)
    before = {key: len(t.whole) for key, t in totals.items()}
    duration = len(frames) / fps
    for line, truth in cases:
        cfg = camera_config(name, video, line, size, args.retail, args.warmup_tracks)
        run = run_line(frames, fps, cfg)
        if truth is None:
            truth = ground_truth(video.parent / "gt" / "gt.txt", line, fps)
        if args.verbose:
            print(f"  {name} {line.name} counted: {listed(run.everyone, fps)}")
            print(f"  {name} {line.name} truth:   {listed(truth, fps)}")
        data = evaluate(name, line.name, truth, run.everyone, duration, args, totals["everyone"])
        if not args.retail:
            show(console, data, args.compact)
            continue
        show(console, data, args.compact, f"{name} {line.name}: every counted crossing (customers + children + "
             "staff) against the truth (every person)")
        data = evaluate(name, line.name, truth, run.customers, duration, args, totals["customers"], "customers")
        show(console, data, args.compact, f"{name} {line.name}: customers alone (in/out, what `storegw audit` "
             "is given) against the truth")
        print(f"  {name} {line.name} retail: " + ", ".join(f"{k} {run.figures[k]}" for k in RETAIL_FIGURES))
        taken = moved(run, 1.5 / fps)
        if taken and args.verbose:
            print(f"  {name} {line.name} taken out of in/out by a rule (child {run.figures['child_in']} in, "
                  f"{run.figures['child_out']} out; staff {run.figures['staff_in']} in, "
                  f"{run.figures['staff_out']} out): {listed(taken, fps)}")
    for key, t in totals.items():
        if len(t.whole) > before[key]:
            label = "" if not args.retail else f"{key}, "
            for sentence in total_lines(f"{label}{name}, {len(cases)} lines,", summed(t.whole[before[key]:])):
                print(sentence)


def main() -> None:
    """Print per-line reports and the totals."""
    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--window", type=float, default=1.0, help="seconds a counted crossing may be off")
    parser.add_argument("--interval", type=float, default=2.0, help="period of the per-period table and MAE (s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds at the start of a clip in which a "
                        "tracker cannot know where a person came from; reported separately")
    parser.add_argument("--annotated", nargs="*", default=None, metavar="TOML",
                        help="clips annotated with crossings per line (default: bench/annotations/*.toml whose "
                        "video is present)")
    parser.add_argument("--no-mot", action="store_true", help="only the annotated clips")
    parser.add_argument("--verbose", action="store_true", help="print every counted and true crossing")
    parser.add_argument("--compact", action="store_true", help="per line, only the report's table of directions")
    parser.add_argument("--reports", type=Path, metavar="DIR",
                        help="write each line's report as JSON, as the daemon saves an audit")
    parser.add_argument("--retail", action="store_true", help="groups, an outside line and U-turns, children by "
                        "learnt height; reports every person and customers alone")
    parser.add_argument("--warmup-tracks", type=int, default=20,
                        help="with --retail: tracks a region of the height model must see first (default 20)")
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
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = 110  # a pipe: wide enough for the report table, not the 80 columns rich assumes
    totals = {"everyone": Totals(), "customers": Totals()}
    for name, video, cases in clips:
        run_sequence(name, video, cases, args, console, totals)
    measures = [("everyone", "")] if not args.retail else [
        ("everyone", "customers + children + staff, "), ("customers", "customers alone, ")]
    for key, label in measures:
        for heading, reports in (("ALL", totals[key].whole), (f"AFTER {args.warmup:g}s WARM-UP", totals[key].steady)):
            for sentence in total_lines(f"{label}{heading}", summed(reports)):
                print(sentence)
    if args.reports is not None:
        print(f"reports written under {args.reports}")


if __name__ == "__main__":
    main()
