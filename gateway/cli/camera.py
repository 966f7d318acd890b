"""`storegw camera snapshot CAMERA_ID -o FILE.png`: aim a camera with one annotated frame, heads blurred.

`storegw camera staff-sample CAMERA_ID [--box x1,y1,x2,y2] [--seconds 5] [--name NAME]`: sample the colour
layout of the staff uniform worn by the one person standing in the box (numbers only, in data_dir).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from gateway.cli.errors import CliError

if TYPE_CHECKING:
    from gateway.config.model import Config
    from gateway.devices.camera.config import CameraConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `camera` verb."""
    camera = subparsers.add_parser("camera", help="aim a camera")
    camera_verbs = camera.add_subparsers(dest="camera_verb", metavar="VERB", required=True)
    snapshot = camera_verbs.add_parser("snapshot", help="one frame with lines, zones and detections; heads blurred")
    snapshot.add_argument("camera_id")
    snapshot.add_argument("-o", "--output", required=True)
    snapshot.add_argument("--config", default=None)
    snapshot.set_defaults(func=snapshot_command)
    sample = camera_verbs.add_parser("staff-sample", help="sample the staff uniform worn by the person in a box "
                                     "(numbers only, never an image)")
    sample.add_argument("camera_id")
    sample.add_argument("--box", type=parse_box, default=None, metavar="X1,Y1,X2,Y2",
                        help="where the staff member stands, in pixels (default: the whole frame)")
    sample.add_argument("--seconds", type=float, default=5.0, help="how long to sample (default 5)")
    sample.add_argument("--name", default="uniform", help="a label for this uniform (default: uniform)")
    sample.add_argument("--config", default=None)
    sample.set_defaults(func=staff_sample_command)


def parse_box(text: str) -> tuple[float, float, float, float]:
    """`x1,y1,x2,y2` in pixels, top left first."""
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected x1,y1,x2,y2 (four numbers, pixels)") from None
    if x2 <= x1 or y2 <= y1 or min(x1, y1) < 0:
        raise argparse.ArgumentTypeError("expected x1 < x2 and y1 < y2, not negative")
    return x1, y1, x2, y2


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


def find_camera(config: Config, camera_id: str) -> CameraConfig:
    """The camera's config; a CliError (exit 2) naming the cameras there are otherwise."""
    from gateway.devices.camera.config import CameraConfig

    devices = config.devices
    camera = next((d for d in devices if isinstance(d, CameraConfig) and d.id == camera_id), None)
    if camera is None:
        known = ", ".join(d.id for d in devices if isinstance(d, CameraConfig)) or "none"
        raise CliError(f"no camera {camera_id!r} in the config (cameras: {known})", 2)
    return camera


def staff_sample_command(args: argparse.Namespace) -> int:
    """Watch the box for a few seconds and save the boxed person's colour layout as the staff uniform."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import time

    import cv2

    from drivers.camera.driver import open_capture, source_kind
    from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
    from gateway.devices.camera.rules import RELOAD_S
    from gateway.devices.camera.staff_store import UniformSample, save_uniform
    from gateway.pipelines.people.sample import SampleError, UniformSampler
    from gateway.pipelines.people.staff import DEFAULT_MAX_DISTANCE
    from gateway.vision.appearance import signatures
    from gateway.vision.detector import PersonDetector
    from gateway.vision.models import ModelError, session

    config = load_or_exit(args.config or DEFAULT_CONFIG)
    camera = find_camera(config, args.camera_id)
    source = camera.source
    if source_kind(source) == "file" and not os.path.exists(source):
        raise no_frame_error(args.camera_id, source)
    if args.seconds <= 0 or args.seconds > 120:
        raise CliError("--seconds must be more than 0 and at most 120", 2)
    try:
        detector = PersonDetector(session("person-detector"), score_threshold=camera.score_threshold)
    except ModelError as exc:
        raise CliError(str(exc), 1) from None
    capture = open_capture(source, camera.fps)
    if not capture.isOpened():
        raise no_frame_error(args.camera_id, source)
    # a file is read as fast as it decodes, so its frames are counted; a live source is timed
    fps = capture.get(cv2.CAP_PROP_FPS) or camera.fps
    wanted = max(round(args.seconds * fps), 1)
    step = max(round(fps / camera.detect_fps), 1)
    sampler: UniformSampler | None = None
    read = 0
    deadline = time.monotonic() + args.seconds + 10.0
    try:
        while read < wanted and time.monotonic() < deadline:
            ok, image = capture.read()
            if not ok:
                break
            read += 1
            if sampler is None:
                height, width = image.shape[:2]
                box = args.box or (0.0, 0.0, float(width), float(height))
                if box[0] >= width or box[1] >= height:
                    raise CliError(f"the box {args.box} is outside the {width}x{height} frame", 2)
                sampler = UniformSampler(box)
            if (read - 1) % step == 0:
                detections = detector.detect(image)
                sampler.feed(detections, signatures(image, detections))
            del image  # no frame outlives its own loop turn
    finally:
        capture.release()
    if sampler is None:
        raise no_frame_error(args.camera_id, source)
    try:
        signature = sampler.result()
    except SampleError as exc:
        raise CliError(f"camera {args.camera_id}: {exc}", 1) from None
    sample = UniformSample(name=args.name, signature=[round(float(v), 2) for v in signature],
                           frames=len(sampler.signatures), taken_at=round(time.time(), 3))
    try:
        path = save_uniform(config.gateway.data_dir, args.camera_id, sample)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot save the sample: {exc}", 1) from None
    print(f"{path}: uniform {args.name!r} of camera {args.camera_id} saved "
          f"(median of {len(sampler.signatures)} frames; numbers only, no image); a running daemon matches it "
          f"within {RELOAD_S:g} seconds, no restart needed")
    nearest = sampler.nearest_other(signature)
    if nearest is not None:
        warn = " - customers this close would count as staff: sample a more distinctive uniform, or rely on " \
               "badges" if nearest <= DEFAULT_MAX_DISTANCE else ""
        print(f"closest other person seen: distance {nearest:.1f} (staff match at {DEFAULT_MAX_DISTANCE:g} or "
              f"less){warn}")
    return 0
