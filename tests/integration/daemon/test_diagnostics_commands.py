"""cmd/doctor, cmd/logs and cmd/device against the real daemon and a real mosquitto: one gateway with a serial
counter on a pty (connected) and a camera whose RTSP URL carries a password and cannot be opened (failing)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from drivers.sim.serial_counter import SerialCounterEmulator
from tests.support.broker import Mosquitto, free_port, mosquitto_binary
from tests.support.peers import Daemon, wait_for, write_config
from tests.support.requester import BASE, Requester

PASSWORD = "s3cretpw"


@dataclass
class Gateway:
    """The daemon under test and what it talks to."""

    broker: Mosquitto
    daemon: Daemon
    client: Requester


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One daemon for the module (each test asks it something different)."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    tmp = tmp_path_factory.mktemp("diagnostics")
    broker = Mosquitto().start()
    emulator = SerialCounterEmulator(link=str(tmp / "counter"), people_per_minute=0, report_interval_s=0.2).start()
    devices = f'''
[[devices]]
id = "door-1"
kind = "serial_counter"
port = "{emulator.link}"
read_timeout_s = 0.1
unplug_timeout_s = 2

[[devices]]
id = "cam-1"
kind = "camera"
source = "rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/stream"
lines = [{{name = "door", x1 = 0, y1 = 100, x2 = 640, y2 = 100, inside = [320, 300]}}]
'''
    daemon = Daemon(write_config(tmp / "gw.toml", port=broker.port, data_dir=tmp / "data", devices=devices)).start()
    client = Requester(broker.port)
    try:
        wait_for(lambda: any(h.json()["state"] == "connected" for h in client.on("/devices/door-1/state")), 30,
                 "door-1 connected")
        wait_for(lambda: client.on("/devices/cam-1/state"), 30, "the camera's state")
        yield Gateway(broker, daemon, client)
    finally:
        client.close()
        code = daemon.terminate() if daemon.alive() else daemon.process.returncode if daemon.process else None
        emulator.stop()
        broker.stop()
    assert code == 0, daemon.log()


def births(client: Requester) -> int:
    """Births the gateway published (a second session with its client id would kick it: one more birth)."""
    return sum(h.json().get("online") is True for h in client.on(f"{BASE}/state"))


def test_doctor_answers_every_check_from_inside_the_daemon(gateway: Gateway) -> None:
    before = births(gateway.client)
    answer = gateway.client.command("doctor", {"request_id": "doc-1"}, correlation=b"\x00corr-doctor")
    body = answer.json()
    assert answer.correlation == b"\x00corr-doctor" and body["request_id"] == "doc-1"
    assert body["ok"] is True
    checks = {check["name"]: check for check in body["checks"]}
    assert list(checks) == ["config", "disk", "clock", "broker link", "device door-1 (serial_counter)",
                            "device cam-1 (camera)"], body
    assert all(set(check) == {"name", "status", "detail"} for check in body["checks"])
    assert checks["broker link"]["status"] == "ok"
    assert f"connected to 127.0.0.1:{gateway.broker.port}" in checks["broker link"]["detail"]
    assert checks["device door-1 (serial_counter)"]["status"] == "ok"
    assert checks["device door-1 (serial_counter)"]["detail"].startswith("connected;")
    assert checks["device cam-1 (camera)"]["status"] == "FAIL"
    assert checks["device cam-1 (camera)"]["detail"].startswith("reconnecting")
    assert body["failed"] == sum(check["status"] == "FAIL" for check in body["checks"]) >= 1
    assert PASSWORD not in answer.payload.decode()
    # the daemon's own link answered for the broker: no second session took the gateway's place
    assert births(gateway.client) == before


def test_logs_answer_the_latest_lines_at_the_level_asked_without_secrets(gateway: Gateway) -> None:
    wait_for(lambda: "cannot open" in gateway.daemon.log(), 30, "the camera's failure in the log")
    warnings = gateway.client.command("logs", {"request_id": "log-1", "lines": 50, "level": "warning"},
                                      correlation=b"corr-logs")
    body = warnings.json()
    assert warnings.correlation == b"corr-logs" and body["ok"] is True and body["request_id"] == "log-1"
    assert 1 <= len(body["lines"]) <= 50
    assert all(line.split(" ", 2)[1] in ("WARNING", "ERROR", "CRITICAL") for line in body["lines"]), body
    assert any("cam-1: cannot open rtsp://" in line for line in body["lines"]), body
    info = gateway.client.command("logs", {"request_id": "log-2", "lines": 1000, "level": "info"}).json()
    assert any("mqtt: connected to" in line for line in info["lines"])
    assert len(info["lines"]) > len(body["lines"])
    two = gateway.client.command("logs", {"request_id": "log-3", "lines": 2, "level": "info"}).json()
    assert len(two["lines"]) == 2
    for answer in (warnings.payload.decode(), str(info), str(two)):
        assert PASSWORD not in answer and "admin:" not in answer


def test_logs_refuses_a_bad_request_and_keeps_request_id(gateway: Gateway) -> None:
    answer = gateway.client.command("logs", {"request_id": 42, "lines": 5000}, correlation=b"bad")
    assert answer.correlation == b"bad"
    assert answer.json() == {"ok": False, "error": "lines must be a whole number from 1 to 1000, not 5000",
                             "request_id": 42}


def test_device_restart_restarts_the_device(gateway: Gateway) -> None:
    client = gateway.client
    seen = len(client.on("/devices/door-1/state"))
    answer = client.command("device", {"request_id": "dev-1", "id": "door-1", "action": "restart"},
                            correlation=b"corr-device")
    assert answer.correlation == b"corr-device"
    assert answer.json() == {"ok": True, "id": "door-1", "action": "restart", "request_id": "dev-1"}

    def after() -> list[tuple[str, str | None]]:
        """door-1's states published since the restart."""
        return [(h.json()["state"], h.json()["reason"]) for h in client.on("/devices/door-1/state")[seen:]]

    wait_for(lambda: after()[-1:] == [("connected", None)], 30, "door-1 connected again")
    assert after() == [("stopped", "restart requested"), ("reconnecting", "starting"), ("connected", None)]
    assert "device door-1 restarted on request" in gateway.daemon.log()


@pytest.mark.parametrize(("request_", "error"), [
    ({"id": "door-9", "action": "restart"}, 'no running device "door-9"; running devices: cam-1, door-1'),
    ({"id": "door-1", "action": "reboot"}, 'action must be one of restart, not "reboot"'),
    ({"action": "restart"}, 'give the device id, e.g. {"id": "door-1", "action": "restart"}; '
                            "running devices: cam-1, door-1"),
])
def test_device_refuses_unknown_ids_and_actions(gateway: Gateway, request_: dict[str, str], error: str) -> None:
    answer = gateway.client.command("device", {"request_id": f"bad-{error[:8]}", **request_}, correlation=b"c")
    assert answer.correlation == b"c"
    assert answer.json() == {"ok": False, "error": error, "request_id": f"bad-{error[:8]}"}
