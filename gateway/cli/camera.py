"""`storegw camera snapshot CAMERA_ID -o FILE.png`: aim a camera with one annotated frame, heads blurred."""

from __future__ import annotations

import argparse
import os

from gateway.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `camera` verb."""
    camera = subparsers.add_parser("camera", help="aim a camera")
    camera_verbs = camera.add_subparsers(dest="camera_verb", metavar="VERB", required=True)
    snapshot = camera_verbs.add_parser("snapshot", help="one frame with lines, zones and detections; heads blurred")
    snapshot.add_argument("camera_id")
    snapshot.add_argument("-o", "--output", required=True)
    snapshot.add_argument("--config", default=None)
    snapshot.set_defaults(func=snapshot_command)


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
