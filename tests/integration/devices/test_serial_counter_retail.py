"""Serial counters' retail figures on real ptys: a shop-front counter's people are the door's passers-by
(through the real daemon and mosquitto), and staff badges leave the door's in/out and the audit's feed."""

from __future__ import annotations

import asyncio
import math
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from drivers.sim.serial_counter import SerialCounterEmulator
from gateway.devices.context import DeviceContext
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.serial_counter.runner import run_device
from gateway.devices.signals import BOARD
from gateway.pipelines import Event
from tests.support.broker import Mosquitto
from tests.support.counters import idle_counters
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

STAFF = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
COMMON = "read_timeout_s = 0.1\nunplug_timeout_s = 2\ninterval_s = 1\n"


@pytest.fixture
def emulators(tmp_path: pathlib.Path) -> Iterator[tuple[SerialCounterEmulator, SerialCounterEmulator]]:
    """The door's and the shop front's counters, each on its own pty, five reports a second, nobody walking."""
    with idle_counters(tmp_path, "door", "front", report_interval_s=0.2) as (door, front):
        yield door, front


def footfall(sub: Subscriber, subject: str) -> dict[str, dict[str, Any]]:
    """The full 1 s footfall intervals of one device, by interval start."""
    return {e["data"]["interval_start"]: e["data"] for e in sub.events()
            if e["type"] == "storegw.footfall.v1" and e["subject"] == subject and e["data"]["interval_s"] == 1.0}


def test_the_shop_front_counters_people_are_the_doors_passers_by_and_give_its_capture_rate(
        tmp_path: pathlib.Path, mosquitto: Mosquitto,
        emulators: tuple[SerialCounterEmulator, SerialCounterEmulator]) -> None:
    door, front = emulators
    devices = (f'[[devices]]\nid = "door-counter"\nkind = "serial_counter"\nport = "{door.link}"\n{COMMON}'
               f'shop_front = "front-counter"\ngroup_window_s = 0.5\n\n'
               f'[[devices]]\nid = "front-counter"\nkind = "serial_counter"\nport = "{front.link}"\n{COMMON}')
    sub = Subscriber(mosquitto.port)
    daemon = Daemon(write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                                 devices=devices)).start()
    walked: list[str] = []
    try:
        wait_for(lambda: footfall(sub, "door-counter") and footfall(sub, "front-counter"), 20, "both counting")
        for passers in (4, 7):
            # halfway through a second, far from the interval's ends: both counters report it in that interval
            second = math.floor(time.time()) + 1
            time.sleep(second + 0.5 - time.time())
            front.walk(passers - 1, 1)
            door.walk(2, 0)  # two together: one group
            walked.append(time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(second)))
        wait_for(lambda: set(walked) <= set(footfall(sub, "door-counter")) and
                 set(walked) <= set(footfall(sub, "front-counter")), 10, "the walked seconds' intervals")
    finally:
        assert daemon.terminate() == 0, daemon.log()
        sub.close()
    doors, fronts = footfall(sub, "door-counter"), footfall(sub, "front-counter")
    for start, passers in zip(walked, (4, 7), strict=True):
        data = doors[start]
        assert (data["in"], data["groups_in"], data["passers_by"]) == (2, 1, passers), data
        assert data["capture_rate"] == round(2 / passers, 3)
        assert fronts[start]["in"] + fronts[start]["out"] == passers, "the front's own footfall is unchanged"
    quiet = [d for s, d in doors.items() if s not in walked and "passers_by" in d]
    assert quiet and all(d["passers_by"] == 0 and "capture_rate" not in d for d in quiet), "nobody passed: no rate"
    events = sub.events()
    for event in events:
        validate_event(event)
    footfalls = [e["data"] for e in events if e["type"] == "storegw.footfall.v1"]
    assert not any("u_turns" in d for d in footfalls), "a beam counter cannot see a U-turn"
    assert not any("passers_by" in d for d in fronts.values()), "the front is a plain counter"


class Recorder:
    """An EventSink and a crossing sink: what the runner commits, and what it tells the audit's feed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.crossings: list[tuple[str, int]] = []

    def commit_event(self, subject: str, event: Event) -> None:
        """Keep the event instead of committing it."""
        self.events.append(event)

    def crossed(self, device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
                people: int = 1) -> None:
        """Keep (direction, people) of each reading with people."""
        if people:
            self.crossings.append((direction, people))


async def test_a_staff_badge_at_the_door_takes_a_person_out_of_in_and_out_of_the_audits_feed(
        tmp_path: pathlib.Path, emulators: tuple[SerialCounterEmulator, SerialCounterEmulator]) -> None:
    door, _ = emulators
    cfg = msgspec.convert({"id": "door-counter", "port": door.link, "interval_s": 1, "read_timeout_s": 0.1,
                           "staff": {"badge_uuid": STAFF, "badge_scanner": "door-ble", "badge_window_s": 0.5}},
                          SerialCounterConfig)
    told = Recorder()
    ctx = DeviceContext("door-counter", told, data_dir=str(tmp_path), crossing_sink=told.crossed)
    task = asyncio.create_task(run_device(cfg, ctx))
    try:
        sightings = BOARD.watch("door-ble", STAFF)  # the scanner the runner watches: the BLE runner would post here
        for _ in range(100):
            if [e for e in told.events if e.type == "footfall"]:
                break
            await asyncio.sleep(0.05)
        sightings.record(STAFF, -60, time.time(), f"{STAFF}/1/7")  # a staff member at the door ...
        door.walk(3, 0)  # ... walking in with two customers
        await asyncio.sleep(1.0)
        door.walk(0, 1)  # a customer leaving, long after the badge was heard: not staff
        for _ in range(100):
            if sum(e.data.out for e in told.events if e.type == "footfall") >= 1:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        BOARD.clear()
    footfall = [e.data for e in told.events if e.type == "footfall"]
    assert sum(d.in_ for d in footfall) == 2 and sum(d.staff_in or 0 for d in footfall) == 1
    assert sum(d.out for d in footfall) == 1 and sum(d.staff_out or 0 for d in footfall) == 0
    assert told.crossings == [("in", 2), ("out", 1)], "the audit is told customers only, as the camera tells it"
