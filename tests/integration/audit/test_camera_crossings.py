"""The camera runner on a real clip tells the audit its customer crossings one by one: what `in`/`out` counted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.runner import run_device
from gateway.devices.context import DeviceContext
from gateway.pipelines import Event
from tests.support.paths import REPO_ROOT

CLIP = REPO_ROOT.parent / "shared" / "benchmarks" / "footfall" / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present (people must be detected)")


class Kept:
    """The device's committed events and the crossings it told."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.crossed: list[tuple[Any, ...]] = []

    def commit_event(self, subject: str, event: Event) -> None:
        """Keep one event."""
        self.events.append(event)

    def sink(self, device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
             people: int = 1) -> None:
        """Keep one crossing (or mark)."""
        self.crossed.append((device_id, line, direction, t_from, t_to, people))


async def test_each_customer_crossing_is_told_at_its_frame_and_children_are_not(tmp_path: Path) -> None:
    # two lines on the same spot: "door" counts everyone, "door-kids" calls every box a child (an adult
    # height far above any box in the clip), so it has crossings but no customer crossing to tell
    line = {"x1": 320, "y1": 0, "x2": 320, "y2": 480, "inside": [600, 240]}
    cfg = msgspec.convert({"id": "cam", "kind": "camera", "source": str(CLIP), "fps": 25, "detect_fps": 25,
                           "interval_s": 60, "children": {"enabled": True, "adult_height_px": 5000},
                           "lines": [{"name": "door", **line}]}, CameraConfig)
    kids = msgspec.convert({**msgspec.to_builtins(cfg), "lines": [{"name": "door-kids", **line}]}, CameraConfig)
    plain = msgspec.convert({**msgspec.to_builtins(cfg), "children": {"enabled": False}}, CameraConfig)
    told: dict[str, Kept] = {}
    for name, config in (("plain", plain), ("kids", kids)):
        kept = told[name] = Kept()
        ctx = DeviceContext("cam", sink=kept, data_dir=str(tmp_path), crossing_sink=kept.sink)
        await asyncio.wait_for(run_device(config, ctx), 120)  # a file that is not looped ends the camera
    people = [c for c in told["plain"].crossed if c[5]]
    footfall = [e.data for e in told["plain"].events if e.type == "footfall"]
    assert people, "people cross the door in this clip"
    assert sum(c[5] for c in people if c[2] == "in") == sum(d.in_ for d in footfall)
    assert sum(c[5] for c in people if c[2] == "out") == sum(d.out for d in footfall)
    assert all(c[0] == "cam" and c[1] == "door" and c[4] is None for c in told["plain"].crossed)
    marks = [c[3] for c in told["plain"].crossed]
    assert marks == sorted(marks), "told in time order, as the frames came"
    kid_data = [e.data for e in told["kids"].events if e.type == "footfall"]
    assert sum((d.child_in or 0) + (d.child_out or 0) for d in kid_data) > 0
    assert not [c for c in told["kids"].crossed if c[5]], "a child's crossing is not in in/out: not told"
    assert told["kids"].crossed, "the marks still say how far the camera has counted"
