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

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "benchmarks" / "footfall" / "TUD-Campus" / "TUD-Campus.mp4"


@pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present")
def test_snapshot_blurs_heads_and_draws_the_line(tmp_path: Path) -> None:
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
source = "{CLIP}"
lines = [{{name = "door", x1 = 320, y1 = 0, x2 = 320, y2 = 480, inside = [600, 240]}}]
''')
    out = tmp_path / "aim.png"
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "camera", "snapshot", "door-cam", "-o", str(out),
                             "--config", str(config)], capture_output=True, text=True, cwd=ROOT, timeout=60)
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
