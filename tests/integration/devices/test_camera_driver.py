"""The camera driver on a real video file made in the test: latest frame only, looping, reopening."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np

from drivers.base import Backoff, DriverState
from drivers.camera import CameraDriver


def make_video(path: Path, frames: int = 30, fps: float = 30.0) -> None:
    """A small video of a moving square."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(frames):
        image = np.zeros((120, 160, 3), dtype=np.uint8)
        cv2.rectangle(image, (i * 4, 40), (i * 4 + 20, 80), (255, 255, 255), -1)
        writer.write(image)
    writer.release()


async def test_only_the_latest_frame_is_kept_and_files_loop(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    make_video(video)
    driver = CameraDriver("cam", source=str(video), loop=True, realtime=False)
    notified = []
    task = asyncio.create_task(driver.run(notified.append))
    while driver.grabbed < 100:  # more than the file holds: it looped
        await asyncio.sleep(0.01)
    frame = driver.latest()
    assert frame is not None and frame.index >= 100 - 5
    assert driver.latest() is None, "a frame is handed out once"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    driver.shutdown()
    assert driver.stats.extra["skipped_frames"] >= 90, "frames nobody took were dropped, not queued"
    assert driver.stats.state in (DriverState.CONNECTED, DriverState.STOPPED)


async def test_a_missing_source_is_retried_with_backoff_and_reported(tmp_path: Path) -> None:
    driver = CameraDriver("cam", source=str(tmp_path / "none.avi"), backoff=Backoff(initial=0.05, maximum=0.1))
    task = asyncio.create_task(driver.run(lambda frame: None))
    deadline = time.monotonic() + 10
    while driver.stats.errors.get("open_failed", 0) < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    driver.shutdown()
    assert driver.stats.errors["open_failed"] >= 3 and "cannot open" in (driver.stats.last_error or "")


def test_credentials_in_a_stream_url_never_reach_the_logs() -> None:
    driver = CameraDriver("cam", source="rtsp://admin:hunter2@10.0.0.5/stream")
    assert driver._safe_source() == "rtsp://10.0.0.5/stream"
