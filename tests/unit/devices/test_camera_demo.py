"""The demo's camera: a door line at the middle and the pavement (left half) as its outside zone."""

from __future__ import annotations

import contextlib
from pathlib import Path

import msgspec
import pytest

from gateway.demo import DemoOptions
from gateway.devices.camera import demo
from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.retail import retail_settings


def _clip(path: Path, width: int = 64, height: int = 48) -> Path:
    """A few grey frames written with OpenCV."""
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    for _ in range(3):
        writer.write(np.full((height, width, 3), 128, np.uint8))
    writer.release()
    return path


async def test_demo_camera_counts_passers_by_on_the_pavement_half(tmp_path: Path) -> None:
    """The entry is a valid camera config; its line's outside zone is the frame's left half (passers-by)."""
    clip = _clip(tmp_path / "clip.avi")
    async with contextlib.AsyncExitStack() as stack:
        entries = await demo.setup(stack, tmp_path, DemoOptions(video=str(clip)))
    cfg = msgspec.convert({k: v for k, v in entries[0].items() if k != "kind"}, CameraConfig)
    line = cfg.lines[0]
    assert (line.x1, line.x2, line.inside[0] > line.x1) == (32.0, 32.0, True)
    assert line.outside is None and line.outside_zone == [[0.0, 0.0], [32.0, 0.0], [32.0, 48.0], [0.0, 48.0]]
    front = retail_settings(cfg).shop_fronts["door"]
    assert front.counts_passers_by and front.outside_zone is not None
    assert front.outside_zone.contains((10.0, 24.0)) and not front.outside_zone.contains((50.0, 24.0))
    assert cfg.group_window_s == 2.0
