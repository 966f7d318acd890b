"""`storegw camera snapshot`: a frame with the counting geometry drawn and every head blurred."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.vision.detector import PersonDetector
from gateway.vision.draw import HEAD_SHARE, blur_heads
from gateway.vision.models import session
from tests.support.camera import CAMPUS_CLIP, camera_verb
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
CLIP = CAMPUS_CLIP


@pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present")
def test_snapshot_blurs_heads_and_draws_the_line(tmp_path: Path) -> None:
    out = tmp_path / "aim.png"
    result = camera_verb(tmp_path, "snapshot", "door-cam", "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "heads blurred" in result.stdout
    snapshot = cv2.imread(str(out))
    original = cv2.VideoCapture(str(CLIP)).read()[1]
    assert snapshot.shape == original.shape
    red = (snapshot[:, 318:323, 2] > 200) & (snapshot[:, 318:323, 1] < 60)
    assert red.mean() > 0.5, "the counting line is drawn"
    assert not np.array_equal(snapshot, original)


@pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present")
def test_every_detected_head_is_blurred() -> None:
    original = cv2.VideoCapture(str(CLIP)).read()[1]
    detections = PersonDetector(session("person-detector")).detect(original)
    blurred = blur_heads(original, detections)
    assert len(detections) >= 3
    for x1, y1, x2, y2, _ in detections:
        top, bottom = int(y1), int(y1 + (y2 - y1) * HEAD_SHARE)
        left, right = int(x1), int(x2)
        if bottom - top < 8 or right - left < 8:
            continue
        sharp = cv2.Laplacian(cv2.cvtColor(original[top:bottom, left:right], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        soft = cv2.Laplacian(cv2.cvtColor(blurred[top:bottom, left:right], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        assert soft < sharp / 3, "every head region must be blurred"


def test_snapshot_of_an_unknown_camera_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://h"\n')
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "camera", "snapshot", "nope", "-o",
                             str(tmp_path / "x.png"), "--config", str(config)], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "no camera 'nope'" in result.stderr
    assert not (tmp_path / "x.png").exists()


def free_port() -> int:
    """A loopback TCP port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def snapshot_of(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run `camera snapshot` on a one-camera config with ``source``."""
    config = tmp_path / "c.toml"
    config.write_text(f'''[gateway]
store_id = "s"
gateway_id = "g"
data_dir = "{tmp_path / 'data'}"
[mqtt]
url = "mqtt://127.0.0.1:1"
[[devices]]
id = "door-cam"
kind = "camera"
source = "{source}"
lines = [{{name = "door", x1 = 320, y1 = 0, x2 = 320, y2 = 480, inside = [600, 240]}}]
''')
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "camera", "snapshot", "door-cam", "-o",
                           str(tmp_path / "aim.png"), "--config", str(config)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("kind", ["missing-file", "not-a-video", "rtsp", "http", "usb-index", "missing-device"])
def test_snapshot_failure_names_what_is_wrong_with_that_kind_of_source(tmp_path: Path, kind: str) -> None:
    port = free_port()
    source, expected = {
        "missing-file": (str(tmp_path / "door.mp4"), f"the video file {tmp_path / 'door.mp4'} of camera door-cam "
                                                     "does not exist"),
        "not-a-video": (str(tmp_path / "notes.txt"), "not a video"),
        "rtsp": (f"rtsp://admin:s3cr3t@127.0.0.1:{port}/stream1",
                 f"the stream rtsp://***@127.0.0.1:{port}/stream1 of camera door-cam could not be opened"),
        "http": (f"http://admin:s3cr3t@127.0.0.1:{port}/video.mjpg?pwd=s3cr3t",
                 f"the stream http://***@127.0.0.1:{port}/video.mjpg?pwd=*** of camera door-cam could not be opened"),
        "usb-index": ("9", "the daemon may hold the camera"),
        "missing-device": ("/dev/video99", "the camera device /dev/video99 of camera door-cam does not exist"),
    }[kind]
    (tmp_path / "notes.txt").write_text("not a video\n")
    result = snapshot_of(tmp_path, source)
    message = result.stderr.strip()
    assert result.returncode == 1 and expected in message, message
    assert "\n" not in message, "one sentence, no OpenCV or FFmpeg chatter"
    assert "s3cr3t" not in result.stderr + result.stdout
    assert ("daemon" in message) == (kind == "usb-index"), "only a local camera can be held by the daemon"
    if kind in ("rtsp", "http"):
        assert "check the URL, the credentials and the network" in message
    assert not (tmp_path / "aim.png").exists()


def test_safe_source_hides_every_part_of_the_credentials() -> None:
    from drivers.camera.driver import safe_source, source_kind

    assert safe_source("rtsp://admin:p@ss/w@rd@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"
    assert safe_source("http://cam/snap.cgi?user=admin&PWD=x1&size=2") == "http://cam/snap.cgi?user=admin&PWD=***&size=2"
    assert safe_source("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s" and safe_source("door.mp4") == "door.mp4"
    assert [source_kind(s) for s in ("0", "/dev/video2", "rtsp://h/s", "https://h/v", "door.mp4")] == \
        ["device", "device", "stream", "stream", "file"]
