"""Demo part of camera: `storegw demo --video FILE` adds a camera at a door: staff, groups, passers-by, occupancy.

The geometry read into any clip (an assumption, since the clip was not filmed at a shop): the camera
hangs inside an open shop front and looks across it, so the frame's left half is the pavement in front
of the shop and its right half the shop floor. The threshold (the ``door`` line) runs top to bottom
through the middle of the frame: walking across it to the right is ``in``. The pavement is the line's
``outside_zone``: everyone seen walking there passes the shop front, whether they then come in or not
(the vendors' passers-by), so capture rate = customers in / passers-by. A zone rather than an outside
line: on street clips (MOT15 TUD, OpenCV's vtest.avi) people walk across the whole frame and appear
mid-frame when a clip loops, so the outside line this demo had at 20 % of the width missed many of them
(in 40 s runs: no passer-by in 3 of 5 intervals on vtest.avi, and fewer passers-by than customers on
TUD-Campus, a capture rate over 100 %); the zone sees every track on the pavement half, so passers-by
and a capture rate show from the first full interval. It counts tracks: a person whose track breaks
there counts twice. Groups: customers within 2 s and 1.5 box heights. Staff: the badge the BLE scene
carries through the door, when the ble extra is installed.
"""

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
    """A looping file camera: the door line at the middle of the frame, the pavement (left half) its outside zone."""
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

    # the pavement is left of the door: tracks through it are passers-by (capture rate, see the docstring); staff
    # are told by the badge the BLE scene carries through the door; people within 2 s and 1.5 heights: a group
    from gateway.devices.extras import missing_extra

    # without the ble extra the demo has no door scanner to name (config check refuses a scanner that is not there)
    staff = None if missing_extra("ble") is not None else {
        "badge_uuid": STAFF_BADGE_UUID, "badge_scanner": SCANNER_ID, "badge_rssi_min": -70, "badge_window_s": 2.0}
    pavement = [[0.0, 0.0], [width / 2, 0.0], [width / 2, height], [0.0, height]]
    return [{"id": "door-camera", "kind": "camera", "source": str(Path(options.video).resolve()), "loop": True,
             "fps": 25.0, "detect_fps": 10.0, "interval_s": 10.0,
             "demographics": {"enabled": True, "k": 10, "interval_s": 60.0},
             "group_window_s": 2.0, "store_occupancy": True,
             "lines": [{"name": "door", "x1": width / 2, "y1": 0.0, "x2": width / 2, "y2": height,
                        "inside": [width * 0.9, height / 2], **({"staff": staff} if staff else {}),
                        "outside_zone": pavement}],
             "zones": [{"name": "entrance", "polygon": pavement}]}]
