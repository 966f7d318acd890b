"""The real daemon against a real mosquitto: every payload valid, every sequence number delivered."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from gateway.cli.outbox import read_stats
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

SYNTHETIC = """
[[devices]]
id = "load"
kind = "synthetic"
rate = {rate}
"""


def all_delivered(sub: Subscriber, outbox: Path) -> bool:
    """True when the subscriber holds every sequence number from 1 to the last committed one."""
    last = read_stats(str(outbox))["last_seq"]
    return last > 0 and set(range(1, last + 1)) <= sub.sequences()


def test_events_are_valid_contiguous_and_birth_and_offline_are_published(tmp_path: Path,
                                                                          mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=200), health_interval_s=1)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 600, what="600 events")
        status = request_status(str(tmp_path / "data" / "storegw.sock"))
        assert status["mqtt"]["connected"] is True
        assert status["devices"]["load"]["kind"] == "synthetic"
        assert status["devices"]["load"]["readings"] > 0
    finally:
        assert daemon.terminate() == 0
    events = sub.events()
    for event in events:
        validate_event(event)
    assert {e["type"] for e in events} >= {"storegw.synthetic.v1", "storegw.health.v1"}
    assert len({e["id"] for e in events}) == len(events)
    seqs = sorted(int(e["sequence"]) for e in events)
    assert seqs[0] == 1
    assert all_delivered(sub, tmp_path / "data" / "outbox.db"), "a committed sequence number was never received"
    states = [json.loads(p) for p in sub.on_topic("/state")]
    assert states[0]["online"] is True and states[0]["boot"] == 1
    assert states[-1] == {**states[-1], "online": False, "reason": "shutdown"}
    stats = read_stats(str(tmp_path / "data" / "outbox.db"))
    assert stats["pending"] == 0
    sub.close()


def test_sigkill_mid_stream_loses_no_sequence_number(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=2000))
    daemon = Daemon(config).start()
    wait_for(lambda: len(sub.events()) > 1500, what="events before the kill")
    daemon.kill()
    killed_at = read_stats(str(tmp_path / "data" / "outbox.db"))
    assert killed_at["last_seq"] > 1500
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: read_stats(str(tmp_path / "data" / "outbox.db"))["last_seq"] > killed_at["last_seq"] + 500,
                 what="new events after restart")
        wait_for(lambda: all_delivered(sub, tmp_path / "data" / "outbox.db"), timeout=30,
                 what="every sequence number after the crash")
    finally:
        daemon.terminate()
    boots = {e["gwboot"] for e in sub.events()}
    assert boots == {1, 2}
    sub.close()


def test_broker_restart_then_replay_fills_every_gap(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=500))
    outbox = tmp_path / "data" / "outbox.db"
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 300, what="events before the broker stops")
        mosquitto.stop()
        time.sleep(2)
        during = read_stats(str(outbox))
        assert during["pending"] > 0, "events must wait in the outbox while the broker is down"
        mosquitto.start()
        wait_for(lambda: read_stats(str(outbox))["pending"] < 300 and
                 read_stats(str(outbox))["last_seq"] > during["last_seq"] + 300, timeout=60,
                 what="the backlog to drain after the broker came back")
        # The subscriber lost its session with the broker: find the gaps and ask for them.
        wait_for(lambda: sub.client.is_connected(), what="subscriber reconnect")
        time.sleep(0.5)
        last = read_stats(str(outbox))["last_seq"]
        missing = sorted(set(range(1, last + 1)) - sub.sequences())
        if missing:
            sub.publish("storegw/v1/store-t/gw-t/cmd/replay",
                        json.dumps({"from_seq": missing[0], "to_seq": missing[-1], "request_id": "r1"}).encode())
            answer = json.loads(wait_for(lambda: sub.on_topic("/cmd-res/replay"), what="replay answer")[0])
            assert answer["ok"] is True and answer["request_id"] == "r1" and answer["missing"] == []
        wait_for(lambda: set(range(1, last + 1)) <= sub.sequences(), timeout=40, what="every gap filled by replay")
    finally:
        daemon.terminate()
    assert "reconnecting" in daemon.log()
    sub.close()


def test_commands_rebirth_config_and_bad_requests(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data")
    daemon = Daemon(config).start()
    base = "storegw/v1/store-t/gw-t"
    try:
        wait_for(lambda: sub.on_topic("/state"), what="birth")
        sub.publish(f"{base}/cmd/rebirth", b"{}")
        wait_for(lambda: len(sub.on_topic("/state")) >= 2, what="second birth")
        # the answer follows the birth through the publish window: it may arrive a poll later
        wait_for(lambda: sub.on_topic("/cmd-res/rebirth"), what="rebirth answer")
        assert json.loads(sub.on_topic("/cmd-res/rebirth")[0])["ok"] is True
        sub.publish(f"{base}/cmd/config", b"{}")
        answer = json.loads(wait_for(lambda: sub.on_topic("/cmd-res/config"), what="config answer")[0])
        assert answer["config"]["gateway"]["store_id"] == "store-t"
        sub.publish(f"{base}/cmd/replay", b"not json")
        sub.publish(f"{base}/cmd/replay", json.dumps({"from_seq": 5, "to_seq": 2}).encode())
        sub.publish(f"{base}/cmd/launch-missiles", b"{}")
        wait_for(lambda: len(sub.on_topic("/cmd-res/replay")) >= 2 and sub.on_topic("/cmd-res/launch-missiles"),
                 what="error answers")
        answers = [json.loads(p) for p in sub.on_topic("/cmd-res/replay")]
        assert all(a["ok"] is False and a["error"] for a in answers)
        assert daemon.alive()
    finally:
        daemon.terminate()
    sub.close()


def test_sighup_reload_adds_a_device_and_keeps_the_outbox(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=100))
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 50, what="first device's events")
        text = config.read_text() + '\n[[devices]]\nid = "load2"\nkind = "synthetic"\nrate = 100\n'
        config.write_text(text.replace("[[devices]]\nid = \"load2\"", "[[devices]]\nid = \"load2\"", 1))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: any(e["subject"] == "load2" for e in sub.events()), what="the added device's events")
        config.write_text(text + "\n[broken\n")
        daemon.signal(signal.SIGHUP)
        time.sleep(1)
        assert daemon.alive()
        assert "reload refused" in daemon.log()
    finally:
        daemon.terminate()
    seqs = sorted(sub.sequences())
    assert seqs == list(range(1, seqs[-1] + 1)), "the outbox sequence must continue across a reload"
    sub.close()
