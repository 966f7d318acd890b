"""A config that breaks a device, a power cut during a trial, a damaged stored config: a working config stays."""

from __future__ import annotations

import os
from pathlib import Path

from drivers.sim.serial_counter import SerialCounterEmulator
from tests.integration.remote.support import (
    SYNTHETIC,
    apply,
    apply_when_free,
    config_show,
    local_tables,
    outcome,
    restart,
    running,
    start,
    started,
)
from tests.support.broker import Mosquitto, free_port
from tests.support.peers import validate_event, wait_for

COUNTER = """
[[devices]]
id = "door"
kind = "serial_counter"
port = "{port}"
interval_s = 1
read_timeout_s = 0.1
unplug_timeout_s = 2
"""


def test_a_device_that_stops_working_rolls_back(tmp_path: Path, mosquitto: Mosquitto) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), report_interval_s=0.2).start()
    try:
        with started(tmp_path, mosquitto, COUNTER.format(port=emulator.link)) as (_daemon, sub, config):
            new = local_tables(config)
            new["devices"][0]["port"] = str(tmp_path / "no-such-port")
            assert apply(sub, "bad-port", new)["ok"] is True
            event = outcome(sub, "bad-port")
            validate_event(event)
            assert event["data"]["state"] == "rolled_back", event["data"]
            assert "device door is" in event["data"]["reason"]
            now = running(sub)
            assert now["source"] == "local" and now["config"]["devices"][0]["port"] == emulator.link
    finally:
        emulator.stop()


def test_a_power_cut_during_a_trial_is_rolled_back_at_the_next_start(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with started(tmp_path, mosquitto, SYNTHETIC.format(rate=2), commit_after_s=60) as (daemon, sub, config):
        new = local_tables(config)
        new["mqtt"]["url"] = f"mqtt://127.0.0.1:{free_port()}"  # would never commit: the trial lasts 60 s
        assert apply(sub, "cut", new)["ok"] is True
        assert config_show(config)["trial"]["version"] == "cut"
        daemon.kill()
        restart(daemon, sub)
        data = outcome(sub, "cut")["data"]
        assert data["state"] == "rolled_back" and "interrupted by a restart" in data["reason"], data
        now = running(sub)
        assert now["source"] == "local" and now["config"]["mqtt"]["url"] == f"mqtt://127.0.0.1:{mosquitto.port}"
        assert config_show(config)["trial"] is None


def test_a_corrupt_stored_config_is_set_aside_at_start(tmp_path: Path, mosquitto: Mosquitto) -> None:
    daemon, sub, config = start(tmp_path, mosquitto, SYNTHETIC.format(rate=2))
    try:
        for version, rate in (("v1", 3), ("v2", 4)):
            new = local_tables(config)
            new["devices"][0]["rate"] = rate
            assert apply_when_free(sub, version, new)["ok"] is True
            assert outcome(sub, version)["data"]["state"] == "committed"
    finally:
        assert daemon.terminate() == 0
    folder = tmp_path / "data" / "config"
    (folder / "000002.toml").write_bytes(b"\x00garbage from a dying SD card")
    restart(daemon, sub)
    try:
        data = wait_for(lambda: [e["data"] for e in sub.events() if e["type"] == "storegw.config.v1"
                                 and e["data"]["version"] == "v2" and e["data"]["state"] == "rolled_back"],
                        20, "the rolled_back event of the damaged v2")[0]
        assert "cannot be used at start" in data["reason"] and data["active_version"] == "v1", data
        now = running(sub)
        assert (now["source"], now["version"]) == ("remote", "v1") and now["config"]["devices"][0]["rate"] == 3
        assert any(name.startswith("000002.toml.corrupt-") for name in os.listdir(folder))
    finally:
        assert daemon.terminate() == 0
    (folder / "state.json").write_text("{ half a state file")
    restart(daemon, sub)
    try:
        now = running(sub)
        assert now["source"] == "local" and now["config"]["devices"][0]["rate"] == 2
    finally:
        daemon.terminate()
        sub.close()
    assert "not a valid state file" in daemon.log()
