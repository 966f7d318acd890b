"""The real daemon: a BLE door scanner (replay) hands a staff badge to a camera on a real clip; children apart.

One camera, two counting lines on the same spot: ``door`` checks the staff badge, ``door-plain`` does
not. Every crossing is the same on both lines. The badge lingers at the door all along, so it claims one
crossing each way on ``door`` (the rule's limit: no more until it leaves the door) and the others are
counted there as on ``door-plain``. Children are on with a manual
``adult_height_px`` far above any box in the clip, so on ``door-plain`` every crossing with enough
frames of evidence is a child's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.ble.adverts import Advert, to_record
from drivers.ble.decoders import APPLE, encode_ibeacon
from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

CLIP = REPO_ROOT.parent / "shared" / "benchmarks" / "footfall" / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4"
BADGE = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present (people must be detected)")


def badge_recording(path: Path) -> None:
    """A staff badge at the door (strong signal) twice a second for ten minutes (replayed looping)."""
    adverts = [Advert(t=1_763_800_000.0 + k / 2, address="C0:FF:EE:00:00:09", rssi=-55,
                      manufacturer_data={APPLE: encode_ibeacon(BADGE, 1, 7)}) for k in range(1200)]
    path.write_text("".join(to_record(a) + "\n" for a in adverts))


def totals(events: list[dict[str, Any]], line: str) -> dict[str, int]:
    """Every count of one line's footfall events, summed."""
    summed: dict[str, int] = {}
    for event in events:
        if event["type"] == "storegw.footfall.v1" and event["data"]["line"] == line:
            for key, value in event["data"].items():
                if isinstance(value, int):
                    summed[key] = summed.get(key, 0) + value
    return summed


def test_a_staff_badge_at_the_door_takes_crossings_out_of_in_and_out(tmp_path: Path, mosquitto: Mosquitto) -> None:
    recording = tmp_path / "badge.jsonl"
    badge_recording(recording)
    line = "x1 = 320, y1 = 0, x2 = 320, y2 = 480, inside = [600, 240]"
    device = (f'[[devices]]\nid = "door-ble"\nkind = "ble"\nreplay = "{recording}"\nreplay_loop = true\n\n'
              f'[[devices]]\nid = "door-cam"\nkind = "camera"\nsource = "{CLIP}"\nloop = true\n'
              f'detect_fps = 10\ninterval_s = 3\n'
              f'children = {{enabled = true, adult_height_px = 5000}}\n'
              f'lines = [{{name = "door", {line}, staff = {{badge_uuid = "{BADGE}", badge_scanner = "door-ble", '
              f'badge_rssi_min = -70, badge_window_s = 5}}}},\n'
              f'         {{name = "door-plain", {line}}}]\n')
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=device)

    def counted_plain() -> int:
        """Crossings of the plain line so far (all children there)."""
        plain = totals(sub.events(), "door-plain")
        return plain.get("child_in", 0) + plain.get("child_out", 0)

    daemon = Daemon(config).start()
    try:
        wait_for(lambda: counted_plain() >= 3, timeout=90, what="crossings of the clip's people")
    finally:
        daemon.terminate()
    events = sub.events()
    for event in events:
        validate_event(event)
    door, plain = totals(events, "door"), totals(events, "door-plain")
    # the badge (always at the door) claims one crossing each way, staff first: not a child there
    assert door.get("staff_in", 0) + door.get("staff_out", 0) >= 1, door
    assert door.get("staff_in", 0) <= 1 and door.get("staff_out", 0) <= 1, "a lingering badge is not every crossing"
    # the same crossings on the plain line: children there (every box is under 75 % of 5000 px), no staff; a track
    # seen fewer than 3 frames before it crossed has no height evidence and stays a customer (never a guess)
    assert plain.get("staff_in", 0) == plain.get("staff_out", 0) == 0, plain
    children = plain.get("child_in", 0) + plain.get("child_out", 0)
    assert children >= 3 and children > plain.get("in", 0) + plain.get("out", 0), plain
    for direction in ("in", "out"):
        on_door = sum(door.get(key, 0) for key in (f"staff_{direction}", f"child_{direction}", direction))
        assert on_door == plain.get(f"child_{direction}", 0) + plain.get(direction, 0), (door, plain)
    published = json.dumps(events)
    assert BADGE not in published and "C0:FF:EE:00:00:09" not in published.upper(), "the badge never leaves the box"
