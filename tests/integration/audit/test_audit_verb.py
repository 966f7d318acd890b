"""`storegw audit --keys` end to end: the real daemon, a real mosquitto, a serial counter on a pty fed known counts."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from drivers.sim.serial_counter import SerialCounterEmulator
from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

# offsets in the audit window: presses (the technician) and walks (what the counter sees), away from the 5 s
# period edges so the device's 1 s intervals land in the same period
KEYS = "2.0 in\n2.4 in\n7.5 out\n7.8 in\n13.0 in   # nobody passed: a miss\n"
WALKS = [(2.0, 2, 0), (7.5, 1, 1), (12.0, 0, 1)]  # the out at 12 s nobody pressed: an extra


@pytest.fixture
def emulator(tmp_path: pathlib.Path) -> Iterator[SerialCounterEmulator]:
    """A people counter on a pty, reporting five times a second, nobody walking unless told."""
    counter = SerialCounterEmulator(link=str(tmp_path / "counter"), people_per_minute=0, report_interval_s=0.2).start()
    yield counter
    counter.stop()


@pytest.mark.parametrize("interval_s", [1, 60])
def test_audit_compares_a_scripted_tally_with_the_counter_and_publishes_it(
        tmp_path: pathlib.Path, mosquitto: Mosquitto, emulator: SerialCounterEmulator, interval_s: int) -> None:
    """The counter tells each reading's people to the audit, so a 60 s footfall interval matches as finely as 1 s."""
    devices = f'[[devices]]\nid = "door-1"\nkind = "serial_counter"\nport = "{emulator.link}"\n' \
              f'interval_s = {interval_s}\nread_timeout_s = 0.1\nunplug_timeout_s = 2\n'
    config = write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=devices)
    subscriber = Subscriber(mosquitto.port)
    daemon = Daemon(config).start()
    try:
        # connected, and a reading or more in (its published state says so); a 60 s interval may be far off
        wait_for(lambda: any(b'"connected"' in m for m in subscriber.on_topic("devices/door-1/state")), 30,
                 "the counter connected")
        (tmp_path / "keys.txt").write_text(KEYS)
        audit = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "audit", "door-1", "--minutes", "0.25", "--bucket-s", "5",
             "--keys", str(tmp_path / "keys.txt"), "--config", str(config), "--settle-s", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=REPO_ROOT,
            env={**os.environ, "COLUMNS": "160"}, text=True)
        assert audit.stdout is not None
        first = audit.stdout.readline()
        assert first.startswith("audit started: device door-1"), first + (audit.stderr.read() if audit.stderr else "")
        start = float(first.split(" start ")[1].split()[0])
        for offset, people_in, people_out in WALKS:
            time.sleep(max(0.0, start + offset - time.time()))
            emulator.walk(people_in, people_out)
        out, err = audit.communicate(timeout=60)
        assert audit.returncode == 0, out + err
        published = wait_for(lambda: [e for e in subscriber.events() if e["type"] == "storegw.audit.v1"], 20,
                             "the audit event")
    finally:
        subscriber.close()
        assert daemon.terminate() == 0, daemon.log()
    event = published[0]
    validate_event(event)
    data = event["data"]
    assert event["subject"] == "door-1" and data["device"] == "door-1" and data["tally"] == "file"
    assert {k: data["in"][k] for k in ("manual", "device", "matched", "missed", "extra")} == dict(
        manual=4, device=3, matched=3, missed=1, extra=0)
    assert {k: data["out"][k] for k in ("manual", "device", "matched", "missed", "extra")} == dict(
        manual=1, device=2, matched=1, missed=0, extra=1)
    assert data["in"]["net_accuracy"] == 0.75 and data["out"]["net_accuracy"] == 0.0
    assert data["total"]["net_accuracy"] == 1.0 and data["total"]["absolute_accuracy"] == 0.6
    # per reading (every 0.2 s), not per footfall interval: finer than 1 s whatever interval_s is
    assert 0 < data["device_resolution_s"] < 1.0
    assert [(b["manual_in"], b["device_in"], b["manual_out"], b["device_out"]) for b in data["buckets"]] == [
        (2, 2, 0, 0), (1, 1, 1, 1), (1, 0, 0, 1)]
    saved = list((tmp_path / "data" / "audits").glob("door-1-*.json"))
    assert len(saved) == 1 and stat.S_IMODE(saved[0].stat().st_mode) == 0o640
    assert json.loads(saved[0].read_text()) == data  # the same numbers, nothing else
    assert "net accuracy" in out and "saved" in out
