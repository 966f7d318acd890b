"""One store occupancy over two doors, through the real daemon: two serial counters on real ptys, a real mosquitto.

In by one door and out by the other is one count; its periodic event comes from one device only; an alert
from the door that crossed the limit; a restart of the daemon keeps the count (saved in data_dir/state).
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
from collections.abc import Iterator
from typing import Any

import pytest

from drivers.sim.serial_counter import SerialCounterEmulator
from tests.support.broker import Mosquitto
from tests.support.counters import idle_counters
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config


def doors(main: str, side: str) -> str:
    """Two serial counters of one store (the default occupancy name), the limit set on the main door only."""
    common = "read_timeout_s = 0.1\nunplug_timeout_s = 2\ninterval_s = 1\nstore_occupancy = true\n"
    return (f'[[devices]]\nid = "main-door"\nkind = "serial_counter"\nport = "{main}"\noccupancy_limit = 3\n{common}'
            f'\n[[devices]]\nid = "side-door"\nkind = "serial_counter"\nport = "{side}"\n{common}')


@pytest.fixture
def counters(tmp_path: pathlib.Path) -> Iterator[tuple[SerialCounterEmulator, SerialCounterEmulator]]:
    """The main and side doors' counters, each on its own pty, reporting ten times a second."""
    with idle_counters(tmp_path, "main", "side", report_interval_s=0.1) as (main, side):
        yield main, side


def store_events(sub: Subscriber, boot: int | None = None) -> list[dict[str, Any]]:
    """The store-scope occupancy events received (of one gateway boot, if given), in order."""
    return [e for e in sub.events() if e["type"] == "storegw.occupancy.v1" and e["data"].get("scope") == "store"
            and (boot is None or e["gwboot"] == boot)]


def periodic_count(sub: Subscriber, count: int, boot: int | None = None) -> Any:
    """Wait for a periodic (not alert) store event with ``count``."""
    return wait_for(lambda: [e for e in store_events(sub, boot) if "alert" not in e["data"]
                             and e["data"]["count"] == count], 15, f"a store occupancy of {count}")


def test_two_doors_keep_one_store_count_published_by_one_device(
        tmp_path: pathlib.Path, mosquitto: Mosquitto,
        counters: tuple[SerialCounterEmulator, SerialCounterEmulator]) -> None:
    main, side = counters
    sub = Subscriber(mosquitto.port)
    daemon = Daemon(write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                                 devices=doors(main.link, side.link))).start()
    try:
        wait_for(lambda: {e["subject"] for e in sub.events() if e["type"] == "storegw.footfall.v1"}
                 >= {"main-door", "side-door"}, 20, "footfall from both doors")
        main.walk(5, 0)  # five in by the main door
        periodic_count(sub, 5)
        side.walk(0, 3)  # three of them out by the side door
        periodic_count(sub, 2)
        side.walk(1, 0)
        periodic_count(sub, 3)
        assert daemon.terminate() == 0, daemon.log()
    finally:
        if daemon.alive():
            daemon.kill()
        sub.close()
    events = store_events(sub)
    for event in events:
        validate_event(event)
    periodic = [e for e in events if "alert" not in e["data"]]
    # the first interval's end may come from whichever door produced one first; then the first id in sorted order
    assert {e["subject"] for e in periodic[2:]} == {"main-door"}, "one publisher: the first id in sorted order"
    times = [e["time"] for e in periodic]
    assert len(times) == len(set(times)), "one event per interval, not one per door"
    assert all(e["data"]["zone"] == "store" and e["data"]["limit"] == 3 for e in periodic)
    alerts = [(e["subject"], e["data"]["alert"], e["data"]["count"]) for e in events if "alert" in e["data"]]
    assert alerts == [("main-door", "over", 5), ("side-door", "under", 2)], "once each, by the door that crossed"


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_a_daemon_restart_keeps_the_count(tmp_path: pathlib.Path, mosquitto: Mosquitto,
                                          counters: tuple[SerialCounterEmulator, SerialCounterEmulator],
                                          stop: str) -> None:
    """A stop (SIGTERM) or a crash (SIGKILL: no stop-time save) keeps the count, each person counted once."""
    main, side = counters
    config = write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=doors(main.link, side.link))
    sub = Subscriber(mosquitto.port)
    daemon = Daemon(config).start()
    try:
        first = periodic_count(sub, 0)[0]["gwboot"]
        main.walk(3, 0)
        periodic_count(sub, 3, first)  # in first: an out read before the ins would be dropped at 0
        side.walk(0, 1)
        periodic_count(sub, 2, first)
        saved = tmp_path / "data" / "state" / "occupancy-store.json"
        if stop == "kill":  # a crash: the last save is the last periodic event's (written off the event loop)
            wait_for(lambda: saved.exists() and json.loads(saved.read_text())["count"] == 2, 10, "the count saved")
            daemon.kill()
        else:
            assert daemon.terminate() == 0, daemon.log()  # systemctl restart: stop ...
        assert json.loads(saved.read_text())["count"] == 2
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o640
        daemon = Daemon(config).start()  # ... and start
        second = wait_for(lambda: [e["gwboot"] for e in store_events(sub) if e["gwboot"] != first], 20,
                          "a store occupancy event after the restart")[0]
        side.walk(1, 0)
        periodic_count(sub, 3, second)
        assert daemon.terminate() == 0, daemon.log()
    finally:
        if daemon.alive():
            daemon.kill()
        sub.close()
    after = [e["data"]["count"] for e in store_events(sub, second)]
    assert after and min(after) >= 2, f"the count went on from 2, not from 0: {after}"
    assert max(after) == 3, f"nobody counted twice after the restart: {after}"
