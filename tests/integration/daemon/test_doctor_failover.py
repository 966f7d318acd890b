"""`storegw doctor` with mqtt.urls: every broker checked, by name; a failing one is a WARN while another works."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.daemon.test_doctor import doctor
from tests.support.broker import Mosquitto, free_port
from tests.support.nats import NatsServer, nats_binary
from tests.support.peers import write_config


def broker_lines(stdout: str) -> list[str]:
    """The doctor's broker lines, in order."""
    return [line for line in stdout.splitlines() if "] broker " in line]


def test_every_url_is_checked_and_a_dead_one_is_a_warning_while_another_works(tmp_path: Path,
                                                                              mosquitto: Mosquitto) -> None:
    """[live, dead]: the live one passes, the dead one is a WARN naming it; the doctor exits 0."""
    dead = free_port()
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          urls=[mosquitto.url, f"mqtt://127.0.0.1:{dead}"])
    result = doctor(config)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = broker_lines(result.stdout)
    assert lines[0] == f"[  ok] broker tcp: 127.0.0.1:{mosquitto.port} reachable"
    assert lines[1] == f"[  ok] broker mqtt: 127.0.0.1:{mosquitto.port}: MQTT 5 session accepted"
    assert lines[2].startswith(f"[warn] broker tcp: 127.0.0.1:{dead} unreachable (")
    assert "check mqtt.urls" in lines[2] and "another broker of mqtt.urls answers" in lines[2]
    assert len(lines) == 3


def test_when_every_url_fails_each_is_a_failure(tmp_path: Path) -> None:
    """No broker answers: the gateway cannot deliver, so each failure stays FAIL and the exit is 1."""
    dead = [free_port(), free_port()]
    config = write_config(tmp_path / "c.toml", port=dead[0], data_dir=tmp_path / "data",
                          urls=[f"mqtt://127.0.0.1:{port}" for port in dead])
    result = doctor(config)
    assert result.returncode == 1
    lines = broker_lines(result.stdout)
    assert [line.split(":", 1)[0] for line in lines] == ["[FAIL] broker tcp", "[FAIL] broker tcp"]
    assert all(f"127.0.0.1:{port} unreachable" in line for port, line in zip(dead, lines, strict=True))


def test_an_mqtt_5_session_refused_by_nats_is_named_and_3_1_1_passes(tmp_path: Path) -> None:
    """nats-server speaks MQTT 3.1.1 only: with protocol 5 the doctor says so; with 3.1.1 it passes."""
    if nats_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    server = NatsServer().start()
    try:
        wrong = write_config(tmp_path / "five.toml", port=server.mqtt_port, data_dir=tmp_path / "data",
                             urls=[server.url])
        result = doctor(wrong)
        assert result.returncode == 1 and "[FAIL] broker mqtt: " in result.stdout
        right = write_config(tmp_path / "three.toml", port=server.mqtt_port, data_dir=tmp_path / "data",
                             urls=[server.url], mqtt_extra='protocol = "3.1.1"')
        result = doctor(right)
        assert result.returncode == 0, result.stdout
        assert "[  ok] broker mqtt: MQTT 3.1.1 session accepted" in result.stdout
    finally:
        server.remove()
