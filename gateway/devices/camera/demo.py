"""Demo part of camera: `storegw demo --video FILE` adds a camera at a door: staff, groups, passers-by, occupancy."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo import DemoOptions

LABEL = "camera"


def wanted(options: DemoOptions) -> bool:
    """Only a demo given --video has a camera."""
    return bool(options.video)


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """A looping file camera with a vertical counting line at the middle of the frame."""
    if not options.video:
        return []
    import cv2

    capture = cv2.VideoCapture(options.video)
    if not capture.isOpened():
        raise ValueError(f"cannot open video {options.video}")
    width = capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 640
    height = capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 480
    capture.release()
    from drivers.sim.ble_scene import STAFF_BADGE_UUID
    from gateway.devices.ble.demo import SCANNER_ID

    # the street is left of the door: its crossings of the outside line are passers-by (capture rate); staff
    # are told by the badge the BLE scene carries through the door; people within 2 s and 1.5 heights: a group
    from gateway.devices.extras import missing_extra

    # without the ble extra the demo has no door scanner to name (config check refuses a scanner that is not there)
    staff = None if missing_extra("ble") is not None else {
        "badge_uuid": STAFF_BADGE_UUID, "badge_scanner": SCANNER_ID, "badge_rssi_min": -70, "badge_window_s": 2.0}
    return [{"id": "door-camera", "kind": "camera", "source": str(Path(options.video).resolve()), "loop": True,
             "fps": 25.0, "detect_fps": 10.0, "interval_s": 10.0,
             "demographics": {"enabled": True, "k": 10, "interval_s": 60.0},
             "group_window_s": 2.0, "store_occupancy": True,
             "lines": [{"name": "door", "x1": width / 2, "y1": 0.0, "x2": width / 2, "y2": height,
                        "inside": [width * 0.9, height / 2], **({"staff": staff} if staff else {}),
                        "outside": {"x1": width * 0.2, "y1": 0.0, "x2": width * 0.2, "y2": height}}],
             "zones": [{"name": "entrance", "polygon": [[0.0, 0.0], [width / 2, 0.0], [width / 2, height],
                                                        [0.0, height]]}]}]
