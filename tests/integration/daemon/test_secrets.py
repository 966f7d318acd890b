"""Secrets never leave: URL credentials are redacted everywhere, and data_dir files are never world-readable."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.config.redact import redact_url, redacted_config
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto, free_port
from tests.support.peers import ROOT, Daemon, Subscriber, wait_for, write_config

PASSWORD = "Sup3r-S3cret"
CAMERA = f"rtsp://admin:{PASSWORD}@127.0.0.1:{{port}}/stream1"


def devices(port: int) -> str:
    """A camera whose RTSP URL carries a password (at ``port``), and a synthetic device."""
    return f"""
[[devices]]
id = "door-cam"
kind = "camera"
source = "{CAMERA.format(port=port)}"
lines = [{{name = "door", x1 = 0, y1 = 100, x2 = 320, y2 = 100, inside = [160, 200]}}]

[[devices]]
id = "load"
kind = "synthetic"
rate = 20
"""


@pytest.mark.parametrize(("text", "shown"), [
    ("rtsp://admin:pw@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
    ("cannot open RTSP://u:p@ss@cam/x now", "cannot open RTSP://***@cam/x now"),  # an unencoded @ too
    ("http://cam/snap.cgi?user=admin&pwd=pw&ch=1", "http://cam/snap.cgi?user=admin&pwd=***&ch=1"),
    ('{"a":"rtsp://cam/s","b":"x@y"}', '{"a":"rtsp://cam/s","b":"x@y"}'),  # never joined across JSON strings
    ("rtsp://cam/stream@1 and mail@example.com", "rtsp://cam/stream@1 and mail@example.com"),
    ("https://u:p@[::1]:8443/", "https://***@[::1]:8443/"),
])
def test_url_credentials_are_redacted_and_nothing_else(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_cmd_config_view_hides_url_credentials_and_secret_paths(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x\n")
    config = parse_config(write_config(tmp_path / "c.toml", port=1883, data_dir=tmp_path / "data",
                                       mqtt_extra=f'username = "u"\npassword_file = "{tmp_path / "pw"}"',
                                       devices=devices(554)).read_text(), str(tmp_path / "c.toml"))
    shown = redacted_config(config)
    assert PASSWORD not in json.dumps(shown)
    assert shown["devices"][0]["source"] == "rtsp://***@127.0.0.1:554/stream1"
    assert shown["mqtt"]["password_file"] == "(set)"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test that calls setup_logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logs_never_carry_url_credentials(capsys: pytest.CaptureFixture[str], root_logging: None) -> None:
    from gateway.logsetup import setup_logging

    setup_logging("info")
    log = logging.getLogger("storegw.device.door-cam")
    source = CAMERA.format(port=554)
    log.warning("cannot open %s", source)
    log.error(f"failed: {source}")
    try:
        raise ValueError(f"bad source {source}")
    except ValueError:
        log.exception("device failed")
    logged = capsys.readouterr().err
    assert PASSWORD not in logged
    assert logged.count("rtsp://***@127.0.0.1:554/stream1") == 3  # message, f-string, traceback


async def test_status_and_health_redact_device_errors(tmp_path: Path) -> None:
    """The health event and the status answer of a gateway whose camera failed quoting its URL."""
    import msgspec

    from gateway.app import Gateway
    from gateway.devices.context import DeviceContext
    from gateway.supervisor import DeviceSlot

    path = write_config(tmp_path / "c.toml", port=free_port(), data_dir=tmp_path / "data",
                        devices=devices(554))
    config = parse_config(path.read_text(), str(path))
    gateway = Gateway(config, str(path))
    await gateway.outbox.open()
    try:
        context = DeviceContext("door-cam", gateway)  # the daemon is the sink of its devices
        context.stats.count_error("open_failed", f"OSError: cannot open {CAMERA.format(port=554)}")
        gateway.supervisor.slots["door-cam"] = DeviceSlot(config=config.devices[0], context=context)
        health = msgspec.json.encode(await gateway.health()).decode()
        status = json.dumps(await gateway.status())
    finally:
        await gateway.outbox.close()
    for shown in (health, status):
        assert PASSWORD not in shown
        assert "cannot open rtsp://***@127.0.0.1:554/stream1" in shown


def test_doctor_lines_never_carry_url_credentials() -> None:
    from gateway.doctor import FAIL, Check, print_checks

    lines: list[str] = []
    print_checks(iter([Check("device door-cam (camera)", FAIL, f"cannot open {CAMERA.format(port=554)}")]),
                 lines.append)
    assert lines == ["[FAIL] device door-cam (camera): cannot open rtsp://***@127.0.0.1:554/stream1"]


def test_camera_credentials_leave_through_no_door(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """cmd/config, status (JSON and screen), doctor and the daemon's log, with a real daemon and broker."""
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=devices(free_port()))
    socket = str(tmp_path / "data" / "storegw.sock")
    sub = Subscriber(mosquitto.port, "storegw/v1/store-t/gw-t/cmd-res/#")
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: os.path.exists(socket) and request_status(socket)["outbox"]["last_seq"] > 0,
                 what="the daemon up and committing")
        wait_for(lambda: request_status(socket)["mqtt"]["connected"], what="the broker link")
        sub.publish("storegw/v1/store-t/gw-t/cmd/config", b'{"request_id": "r1"}')
        answer = json.loads(wait_for(lambda: sub.on_topic("/cmd-res/config"), what="the cmd/config answer")[0])
        assert answer["ok"] and answer["request_id"] == "r1"
        camera = next(d for d in answer["config"]["devices"] if d["id"] == "door-cam")
        assert camera["source"].startswith("rtsp://***@127.0.0.1:")
        status_json = json.dumps(request_status(socket))
        screen = subprocess.run([sys.executable, "-m", "gateway.cli.main", "status", "--socket", socket],
                                capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert screen.returncode == 0, screen.stderr
        doctor = subprocess.run([sys.executable, "-m", "gateway.cli.main", "doctor", "--config", str(config)],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert "device door-cam (camera)" in doctor.stdout
    finally:
        daemon.terminate()
        sub.close()
    for name, shown in [("cmd/config", json.dumps(answer)), ("status --json", status_json),
                        ("status", screen.stdout + screen.stderr), ("doctor", doctor.stdout + doctor.stderr),
                        ("daemon log", daemon.log())]:
        assert PASSWORD not in shown, f"the camera password leaked through {name}"


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of everything under ``folder``, by path relative to it."""
    return {str(path.relative_to(folder)): stat.S_IMODE(path.lstat().st_mode) for path in folder.rglob("*")}


def test_data_dir_files_are_not_world_readable_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", port=free_port(), data_dir=data,
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 50\n')
    previous = os.umask(0o022)  # as without systemd; the daemon inherits it
    try:
        daemon = Daemon(config).start()
        try:
            wait_for(lambda: (data / "outbox.db-wal").exists() and (data / "outbox.db.state.json").exists(),
                     what="the outbox, its WAL and its state file")
            running = modes(data)
        finally:
            assert daemon.terminate() == 0
        # files left by an older version under umask 022, and one that is not storegw's
        for name in ("outbox.db", "outbox.db.state.json"):
            os.chmod(data / name, 0o644)
        (data / "notes.txt").write_text("the technician's")
        os.chmod(data / "notes.txt", 0o644)
        daemon = Daemon(config).start()
        try:
            wait_for(lambda: (data / "outbox.db-wal").exists() and (data / "storegw.sock").exists(),
                     what="the daemon restarted")
            restarted = modes(data)
        finally:
            assert daemon.terminate() == 0
    finally:
        os.umask(previous)
    for seen in (running, restarted):
        assert seen["storegw.sock"] == 0o660
        ours = {name: mode for name, mode in seen.items() if name != "storegw.sock" and name != "notes.txt"}
        assert {"outbox.db", "outbox.db-wal", "outbox.db-shm", "outbox.db.state.json"} <= set(ours)
        assert all(mode & 0o027 == 0 for mode in ours.values()), {k: oct(v) for k, v in ours.items()}
    assert stat.S_IMODE(data.stat().st_mode) & 0o007 == 0, "data_dir made by the daemon is not open to others"
    assert restarted["notes.txt"] == 0o644, "files that are not storegw's are left alone"
