"""Link options against a real mosquitto: MQTT 3.1.1, username and password file, the will, device isolation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.cli.outbox import read_stats
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

LOAD = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 100\n'


def test_mqtt_311_with_password_file_delivers_and_a_wrong_password_is_reported(tmp_path: Path) -> None:
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd is not installed")
    passwords = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "store-t", "right-horse-battery"], check=True)
    passwords.chmod(0o600)
    broker = Mosquitto(password_file=str(passwords)).start()
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "reader", "reader-pw"], check=True)
    broker.stop()
    broker.start()
    (tmp_path / "pw").write_text("wrong-password\n")
    try:
        login = f'protocol = "3.1.1"\nusername = "store-t"\npassword_file = "{tmp_path / "pw"}"'
        config = write_config(tmp_path / "c.toml", port=broker.port, data_dir=tmp_path / "data", devices=LOAD,
                              mqtt_extra=login)
        daemon = Daemon(config).start()
        try:
            wait_for(lambda: "refused" in daemon.log(), what="the refused login in the log")
            status = request_status(str(tmp_path / "data" / "storegw.sock"))
            assert status["mqtt"]["connected"] is False and "password" in status["mqtt"]["last_error"]
            (tmp_path / "pw").write_text("right-horse-battery\n")
            daemon.signal(1)  # SIGHUP re-reads the secret files too
            sub = _authenticated_subscriber(broker.port)
            wait_for(lambda: read_stats(str(tmp_path / "data" / "outbox.db"))["pending"] < 100 and
                     len(sub.events()) > 50, what="delivery after the password was fixed")
        finally:
            daemon.terminate()
        assert "right-horse-battery" not in daemon.log() and "wrong-password" not in daemon.log()
        for event in sub.events()[:50]:
            validate_event(event)
        sub.close()
    finally:
        broker.stop()


def _authenticated_subscriber(port: int) -> Subscriber:
    """A subscriber logged in as `reader`."""
    sub = Subscriber.__new__(Subscriber)
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    sub.messages = []
    sub.lock = threading.Lock()
    sub.port = port
    sub.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="reader", protocol=paho.MQTTv311)
    sub.client.username_pw_set("reader", "reader-pw")
    sub.client.on_message = sub._on_message
    sub.client.on_connect = lambda c, u, f, rc, p: c.subscribe("storegw/#", qos=1)
    sub.client.connect("127.0.0.1", port, 30)
    sub.client.loop_start()
    return sub


def test_will_marks_the_gateway_offline_when_it_dies(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/+/+/state")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data")
    daemon = Daemon(config).start()
    wait_for(lambda: sub.on_topic("/state"), what="birth")
    daemon.kill()
    wait_for(lambda: len(sub.on_topic("/state")) >= 2, what="the will")
    states = [json.loads(p) for p in sub.on_topic("/state")]
    assert states[0]["online"] is True
    assert states[-1]["online"] is False and states[-1]["reason"] == "connection lost"
    late = Subscriber(mosquitto.port, "storegw/v1/+/+/state")  # retained: a newcomer sees it too
    wait_for(lambda: late.on_topic("/state"), what="the retained state")
    assert json.loads(late.on_topic("/state")[0])["online"] is False
    sub.close()
    late.close()


def test_a_failing_device_is_restarted_while_the_others_go_on(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    broken = '[[devices]]\nid = "gone"\nkind = "serial_counter"\nport = "socket://127.0.0.1:1"\n'
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=LOAD + broken, health_interval_s=1)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len([e for e in sub.events() if e["subject"] == "load"]) > 200, what="the healthy device")
        health = wait_for(lambda: [e for e in sub.events() if e["type"] == "storegw.health.v1"
                                   and e["data"]["devices"]["gone"]["errors"]], what="errors of the broken device")
    finally:
        daemon.terminate()
    gone = health[-1]["data"]["devices"]["gone"]
    assert gone["state"] in ("reconnecting", "failed")
    assert gone["last_error"]
    assert health[-1]["data"]["devices"]["load"]["state"] == "connected"
