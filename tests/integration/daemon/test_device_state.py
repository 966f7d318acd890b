"""`.../devices/{id}/state`: retained, on every change, right again after a broker restart, `stopped` after a
reload removes the device; the real daemon, a real mosquitto and a serial counter on a pty."""

from __future__ import annotations

import itertools
import pathlib
import signal
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from drivers.sim.serial_counter import SerialCounterEmulator
from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, wait_for, write_config
from tests.support.requester import BASE, Requester

TOPIC = f"{BASE}/devices/door-1/state"


def door(port: str) -> str:
    """The config of one serial counter on ``port``."""
    return f'''
[[devices]]
id = "door-1"
kind = "serial_counter"
port = "{port}"
read_timeout_s = 0.1
unplug_timeout_s = 1
'''


@pytest.fixture
def emulator(tmp_path: pathlib.Path) -> Iterator[SerialCounterEmulator]:
    """A people counter on a pty, reporting five times a second."""
    counter = SerialCounterEmulator(link=str(tmp_path / "counter"), people_per_minute=0, report_interval_s=0.2).start()
    yield counter
    counter.stop()


@pytest.fixture
def daemon(tmp_path: pathlib.Path, mosquitto: Mosquitto, emulator: SerialCounterEmulator) -> Iterator[Daemon]:
    """The daemon with door-1, stopped (cleanly) after the test."""
    process = Daemon(write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                                  devices=door(emulator.link))).start()
    yield process
    if process.alive():
        assert process.terminate() == 0, process.log()


def validator() -> jsonschema.Draft202012Validator:
    """The device state payload as docs/asyncapi.yaml documents it."""
    doc = yaml.safe_load((REPO_ROOT / "docs" / "asyncapi.yaml").read_text())
    schema = doc["components"]["messages"]["deviceState"]["payload"]
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def retained(port: int, state: str, timeout: float = 30.0) -> dict[str, Any]:
    """What a subscriber arriving now gets first on door-1's state topic, once that is a retained message in
    ``state`` (fails if it never is)."""

    def look() -> dict[str, Any] | None:
        """One late subscriber's view."""
        late = Requester(port, TOPIC)
        try:
            heard = wait_for(lambda: late.on(TOPIC), 5, "the retained device state")
        finally:
            late.close()
        body: dict[str, Any] = heard[0].json()
        # a live message (not retained) reached a subscriber that came before the change: look again
        return body if heard[0].retain and body["state"] == state else None

    found: dict[str, Any] = wait_for(look, timeout, f"door-1 retained as {state}")
    return found


def test_device_state_is_retained_and_follows_the_counter(mosquitto: Mosquitto, emulator: SerialCounterEmulator,
                                                          daemon: Daemon) -> None:
    check = validator()
    connected = retained(mosquitto.port, "connected")
    watcher = Requester(mosquitto.port)
    birth = wait_for(lambda: [h.json() for h in watcher.on(f"{BASE}/state")], 10, "the birth")[-1]
    assert connected["reason"] is None and connected["gwboot"] == birth["boot"]
    check.validate(connected)

    emulator.unplug()  # the pty closes: the driver gets an I/O error and reconnects
    lost = retained(mosquitto.port, "reconnecting")
    assert lost["reason"], "a reconnecting device says why"
    check.validate(lost)
    emulator.replug()
    back = retained(mosquitto.port, "connected")
    check.validate(back)
    assert back["since"] >= lost["since"] >= connected["since"]
    # every change went out, in order, each as its own message (no reconnect here, so no republish)
    changes = [(h.json()["state"], h.json()["reason"]) for h in watcher.on(TOPIC)]
    assert changes[-1] == ("connected", None) and "reconnecting" in {state for state, _ in changes}
    assert all(a != b for a, b in itertools.pairwise(changes)), changes
    watcher.close()


def test_device_states_are_published_again_after_a_broker_restart(mosquitto: Mosquitto, daemon: Daemon) -> None:
    retained(mosquitto.port, "connected")
    mosquitto.stop()  # no persistence: the retained messages are gone with it
    mosquitto.start()
    retained(mosquitto.port, "connected")  # republished after the new birth, not by a change of the device
    assert "mqtt: connected" in daemon.log()


def test_a_device_removed_by_a_reload_is_stopped(tmp_path: pathlib.Path, mosquitto: Mosquitto,
                                                 daemon: Daemon) -> None:
    retained(mosquitto.port, "connected")
    write_config(tmp_path / "gw.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices="")
    daemon.signal(signal.SIGHUP)
    stopped = retained(mosquitto.port, "stopped")
    assert stopped["reason"] == "removed from the config"
    validator().validate(stopped)
