"""Device state changes are told without polling, mapped to the four published states, and published
retained on each change and after every birth; the supervisor restarts one device on request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DriverState, DriverStats
from gateway.devices.synthetic.config import SyntheticConfig
from gateway.mqtt.device_state import REASON_CHARS, DeviceStates, wire_state
from gateway.pipelines import Event
from gateway.supervisor import Supervisor

BASE = "storegw/v1/s/g"


class Published:
    """Collects what DeviceStates publishes."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        """The publish port."""
        self.messages.append((topic, json.loads(payload)))

    def states(self, device_id: str) -> list[tuple[str, str | None]]:
        """(state, reason) of every message published for ``device_id``."""
        return [(body["state"], body["reason"]) for topic, body in self.messages
                if topic == f"{BASE}/devices/{device_id}/state"]


class Discard:
    """An event sink that keeps nothing."""

    def commit_event(self, subject: str, event: Event) -> None:
        """Drop the event."""


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll ``predicate`` on the loop until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_driver_stats_tell_each_change_of_state_once() -> None:
    seen: list[DriverState] = []
    stats = DriverStats()
    stats.state = DriverState.CONNECTED  # nobody listens yet
    stats.on_state = seen.append
    stats.state = DriverState.CONNECTED  # unchanged: not told
    stats.state = DriverState.RECONNECTING
    stats.readings += 5  # other fields are plain
    stats.state = DriverState.RECONNECTING
    stats.state = DriverState.CONNECTED
    assert seen == [DriverState.RECONNECTING, DriverState.CONNECTED]
    assert stats.readings == 5 and stats == DriverStats(state=DriverState.CONNECTED, readings=5)


def test_driver_states_map_to_the_four_published_ones() -> None:
    assert [wire_state(s) for s in DriverState] == ["reconnecting", "connected", "reconnecting", "failed", "stopped"]


def test_device_states_publish_on_change_keep_since_and_redact() -> None:
    published = Published()
    states = DeviceStates(published, lambda: BASE, lambda: 7)
    assert states.update("cam", DriverState.STARTING, 100.0, None)
    assert states.update("cam", DriverState.RECONNECTING, 101.0, "cannot open rtsp://admin:pw@10.0.0.5/s")
    assert not states.update("cam", DriverState.RECONNECTING, 102.0, "cannot open rtsp://admin:pw@10.0.0.5/s")
    assert states.update("cam", DriverState.RECONNECTING, 103.0, "x" * 1000)
    assert states.update("cam", DriverState.CONNECTED, 104.0, "an old error")
    assert states.update("cam", DriverState.STOPPED, 105.0, "removed from the config")
    assert published.states("cam") == [
        ("reconnecting", "starting"), ("reconnecting", "cannot open rtsp://***@10.0.0.5/s"),
        ("reconnecting", "x" * (REASON_CHARS - 3) + "..."), ("connected", None), ("stopped", "removed from the config")]
    bodies = [body for _, body in published.messages]
    # since: when the device entered its state, not when the reason last changed
    assert [body["since"] for body in bodies[:3]] == ["1970-01-01T00:01:40Z"] * 3
    assert bodies[3]["since"] == "1970-01-01T00:01:44Z"
    assert {body["gwboot"] for body in bodies} == {7}
    assert set(bodies[0]) == {"state", "since", "reason", "gwboot"}


def test_republish_sends_every_known_state_again() -> None:
    published = Published()
    states = DeviceStates(published, lambda: BASE, lambda: 1)
    states.update("a", DriverState.CONNECTED, 1.0, None)
    states.update("b", DriverState.FAILED, 1.0, "OSError: gone")
    published.messages.clear()
    states.republish()
    assert published.states("a") == [("connected", None)] and published.states("b") == [("failed", "OSError: gone")]


async def test_supervisor_reports_each_change_with_its_reason(tmp_path: Path) -> None:
    published = Published()
    supervisor = Supervisor(Discard(), str(tmp_path))
    states = DeviceStates(published, lambda: BASE, lambda: 1)
    supervisor.on_state = states.update
    supervisor.start(SyntheticConfig(id="load", rate=5))
    await until(lambda: published.states("load")[-1:] == [("connected", None)])
    assert published.states("load") == [("reconnecting", "starting"), ("connected", None)]

    await supervisor.restart("load")
    await until(lambda: published.states("load")[-1:] == [("connected", None)] and len(published.states("load")) > 2)
    assert published.states("load")[2:] == [("stopped", "restart requested"), ("reconnecting", "starting"),
                                            ("connected", None)]
    assert supervisor.slots["load"].restarts == 1

    changed = await supervisor.apply([])
    await until(lambda: published.states("load")[-1][0] == "stopped")
    assert changed == ["stopped load"] and published.states("load")[-1] == ("stopped", "removed from the config")


async def test_supervisor_restart_refuses_an_unknown_device(tmp_path: Path) -> None:
    supervisor = Supervisor(Discard(), str(tmp_path))
    with pytest.raises(KeyError):
        await supervisor.restart("nothing")


async def test_a_replaced_slot_reports_nothing_more(tmp_path: Path) -> None:
    """A change of an old slot reported after a reload started a new one for the id is not published."""
    published = Published()
    supervisor = Supervisor(Discard(), str(tmp_path))
    supervisor.on_state = DeviceStates(published, lambda: BASE, lambda: 1).update
    supervisor.start(SyntheticConfig(id="load", rate=5))
    old = supervisor.slots["load"]
    await until(lambda: published.states("load")[-1:] == [("connected", None)])
    await supervisor.apply([SyntheticConfig(id="load", rate=6)])  # changed: stopped, then a new slot
    await until(lambda: published.states("load")[-1:] == [("connected", None)] and supervisor.slots["load"] is not old)
    count = len(published.states("load"))
    old.context.stats.state = DriverState.FAILED  # a late word from the old task
    await asyncio.sleep(0.05)
    assert len(published.states("load")) == count
    assert ("stopped", "config changed") in published.states("load")
    await supervisor.stop_all()


def test_payloads_match_the_asyncapi_device_state_message() -> None:
    """Every published shape satisfies docs/asyncapi.yaml, and the channel is documented retained, QoS 1."""
    import jsonschema
    import yaml

    from tests.support.paths import REPO_ROOT

    doc = yaml.safe_load((REPO_ROOT / "docs" / "asyncapi.yaml").read_text())
    schema = doc["components"]["messages"]["deviceState"]["payload"]
    check = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    published = Published()
    states = DeviceStates(published, lambda: BASE, lambda: 3)
    for n, (state, reason) in enumerate([(DriverState.STARTING, None), (DriverState.CONNECTED, None),
                                         (DriverState.RECONNECTING, "x" * 5000), (DriverState.FAILED, "OSError"),
                                         (DriverState.STOPPED, "shutdown")]):
        states.update("door-1", state, 1_790_000_000.0 + n, reason)
    assert len(published.messages) == 5
    for _, body in published.messages:
        check.validate(body)
    assert not check.is_valid({**published.messages[0][1], "state": "starting"})
    assert doc["channels"]["device_state"]["address"].endswith("/devices/{device_id}/state")
    assert doc["operations"]["publish_device_state"]["bindings"]["mqtt"] == {"qos": 1, "retain": True}
    for name in ("doctor", "logs", "device"):
        assert doc["channels"][f"cmd_{name}"]["address"].endswith(f"/cmd/{name}")
        assert doc["operations"][f"answer_cmd_{name}"]["channel"] == {"$ref": f"#/channels/cmd_res_{name}"}


async def test_a_failing_device_is_published_failed_then_stopped_when_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device waiting out its backoff after a failure has no task to say `stopped`: the supervisor says it."""
    async def broken(config: Any, context: Any) -> None:
        """A runner whose device is gone."""
        raise OSError("the port is gone")

    monkeypatch.setattr("gateway.supervisor.load_runner", lambda kind: broken)
    published = Published()
    supervisor = Supervisor(Discard(), str(tmp_path))
    supervisor.on_state = DeviceStates(published, lambda: BASE, lambda: 1).update
    supervisor.start(SyntheticConfig(id="load"))
    await until(lambda: published.states("load")[-1:] == [("failed", "OSError: the port is gone")])
    await supervisor.apply([])
    await until(lambda: published.states("load")[-1][0] == "stopped")
    assert published.states("load") == [("reconnecting", "starting"), ("failed", "OSError: the port is gone"),
                                        ("stopped", "removed from the config")]
