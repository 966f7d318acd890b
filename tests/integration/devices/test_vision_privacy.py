"""After a daemon run with a camera: nothing image-like in data_dir, the logs or what was published."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

ROOT = REPO_ROOT
CLIP = ROOT.parent / "shared" / "benchmarks" / "footfall" / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4"
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x18ftyp")


def video(tmp_path: Path) -> Path:
    """The evaluation clip when present (read in place), else a generated one."""
    if CLIP.exists():
        return CLIP
    path = tmp_path / "made.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for i in range(100):
        image = np.full((480, 640, 3), 90, dtype=np.uint8)
        cv2.rectangle(image, (i * 6, 150), (i * 6 + 60, 400), (30, 30, 200), -1)
        writer.write(image)
    writer.release()
    return path


def test_camera_run_leaves_no_image_anywhere(tmp_path: Path, mosquitto: Mosquitto) -> None:
    device = (f'[[devices]]\nid = "door-cam"\nkind = "camera"\nsource = "{video(tmp_path)}"\nloop = true\n'
              f'detect_fps = 10\ninterval_s = 2\ndemographics = {{enabled = true, k = 10, interval_s = 60}}\n'
              f'lines = [{{name = "door", x1 = 320, y1 = 0, x2 = 320, y2 = 480, inside = [600, 240]}}]\n'
              f'zones = [{{name = "entrance", polygon = [[0, 0], [320, 0], [320, 480], [0, 480]]}}]\n')
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=device,
                          health_interval_s=2)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len([e for e in sub.events() if e["type"] == "storegw.footfall.v1"]) >= 2, timeout=40,
                 what="camera footfall events")
        health = wait_for(lambda: [e for e in sub.events() if e["type"] == "storegw.health.v1"
                                   and e["data"]["devices"]["door-cam"].get("processed_fps")], what="camera health")
    finally:
        daemon.terminate()
    camera = health[-1]["data"]["devices"]["door-cam"]
    assert camera["input_fps"] > 0 and camera["processed_fps"] > 0 and "skipped_frames" in camera
    events = sub.events()
    for event in events:
        validate_event(event)
    assert {e["type"] for e in events} >= {"storegw.footfall.v1", "storegw.occupancy.v1", "storegw.dwell.v1"}
    for _, payload, _ in sub.messages:
        assert len(payload) < 20_000 and not payload.startswith(IMAGE_MAGIC)
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert path.suffix not in (".png", ".jpg", ".jpeg", ".bmp", ".npy", ".avi", ".mp4"), path
            assert not path.read_bytes()[:12].startswith(IMAGE_MAGIC), path
    log = daemon.log()
    assert len(log) < 100_000 and "array(" not in log and "\\x89PNG" not in log
