"""Faults the daemon must report and survive: black-holed link, quota, corrupt outbox, wrong TLS CA."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from gateway.cli.outbox import read_stats
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto, free_port
from tests.support.certs import make_ca, make_leaf
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config
from tests.support.proxy import BlackholeProxy

SYNTHETIC = """
[[devices]]
id = "load"
kind = "synthetic"
rate = {rate}
payload_bytes = {payload}
"""


def test_black_holed_connection_is_detected_and_replaced(tmp_path: Path, mosquitto: Mosquitto) -> None:
    proxy = BlackholeProxy(mosquitto.port)
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=proxy.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=200, payload=32),
                          mqtt_extra="keepalive_s = 5\npuback_timeout_s = 2")
    outbox = tmp_path / "data" / "outbox.db"
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 100, what="events through the proxy")
        proxy.blackhole()
        wait_for(lambda: proxy.accepted >= 2, timeout=20, what="a new connection after the black hole")
        last = read_stats(str(outbox))["last_seq"]
        wait_for(lambda: set(range(1, last + 1)) <= sub.sequences(), timeout=20,
                 what="everything committed before and during the black hole")
    finally:
        daemon.terminate()
        proxy.close()
    assert "no PUBACK" in daemon.log() or "connection lost" in daemon.log()
    sub.close()


def test_quota_drops_by_policy_counts_every_drop_and_reports_it(tmp_path: Path) -> None:
    dead_port = free_port()  # nobody listens: everything stays pending
    config = write_config(tmp_path / "c.toml", port=dead_port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=3000, payload=400),
                          outbox_extra="max_bytes = 2_000_000\nbatch_max = 500", health_interval_s=1)
    outbox = tmp_path / "data" / "outbox.db"
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: outbox.exists() and read_stats(str(outbox))["dropped"].get("quota:synthetic", 0) > 1000,
                 timeout=40, what="quota drops")
        status = request_status(str(tmp_path / "data" / "storegw.sock"))
        stats = read_stats(str(outbox))
    finally:
        daemon.terminate()
    assert stats["bytes"] <= 2_000_000 * 1.15, stats
    assert status["outbox"]["dropped"].get("quota:synthetic", 0) > 0, (status["outbox"], stats)
    # health is not dropped while synthetic rows are left to drop (drop_order = synthetic, health)
    assert not any(key.endswith(":health") for key in stats["dropped"])
    assert stats["pending"] > 0 and stats["last_seq"] > stats["pending"]
    assert "could not" not in daemon.log().lower()


def test_corrupt_outbox_is_set_aside_and_the_sequence_continues(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=200, payload=16))
    outbox = tmp_path / "data" / "outbox.db"
    daemon = Daemon(config).start()
    wait_for(lambda: len(sub.events()) > 100, what="events before corruption")
    assert daemon.terminate() == 0
    before = read_stats(str(outbox))["last_seq"]
    with open(outbox, "r+b") as handle:  # overwrite the header and the first pages with garbage
        handle.write(b"\xde\xad\xbe\xef" * 4096)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: "corrupt" in daemon.log(), what="the corruption to be reported")
        wait_for(lambda: max(sub.sequences()) > before + 50, what="new events after recovery")
    finally:
        daemon.terminate()
    assert daemon.process and daemon.process.returncode == 0
    aside = list((tmp_path / "data").glob("outbox.db.corrupt-*"))
    assert aside, "the corrupt file must be kept for inspection"
    new = sorted(s for s in sub.sequences() if s > before)
    assert new[0] > before, "a sequence number must never be reused"
    assert new == list(range(new[0], new[-1] + 1))
    assert read_stats(str(outbox))["recoveries"] == 1
    sub.close()


def test_wrong_tls_ca_is_reported_survived_and_fixed_by_reload(tmp_path: Path) -> None:
    good_ca, good_key, good_cert = make_ca(tmp_path, "good-ca")
    other_ca, _, _ = make_ca(tmp_path, "other-ca")
    server_cert, server_key = make_leaf(tmp_path, "broker", good_key, good_cert, server=True)
    client_cert, client_key = make_leaf(tmp_path, "client", good_key, good_cert, server=False,
                                        password=b"kp-9f3a-secret")
    (tmp_path / "key-pass").write_text("kp-9f3a-secret\n")
    broker = Mosquitto(tls={"ca": str(good_ca), "cert": str(server_cert), "key": str(server_key),
                            "require_certificate": "1"}).start()
    try:
        tls = (f'ca_file = "{other_ca}"\ncert_file = "{client_cert}"\nkey_file = "{client_key}"\n'
               f'key_password_file = "{tmp_path / "key-pass"}"')
        config = write_config(tmp_path / "c.toml", port=broker.port, data_dir=tmp_path / "data", url=broker.url,
                              devices=SYNTHETIC.format(rate=50, payload=16), mqtt_extra=tls)
        daemon = Daemon(config).start()
        try:
            wait_for(lambda: "TLS verification" in daemon.log(), what="the TLS failure in the log")
            status = request_status(str(tmp_path / "data" / "storegw.sock"))
            assert status["mqtt"]["connected"] is False
            assert "ca_file" in status["mqtt"]["last_error"]
            wait_for(lambda: read_stats(str(tmp_path / "data" / "outbox.db"))["pending"] > 20,
                     what="events waiting in the outbox while TLS fails")
            config.write_text(config.read_text().replace(str(other_ca), str(good_ca)))
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: request_status(str(tmp_path / "data" / "storegw.sock"))["mqtt"]["connected"],
                     what="a TLS connection after the reload")
            wait_for(lambda: read_stats(str(tmp_path / "data" / "outbox.db"))["pending"] < 50,
                     what="the backlog delivered over TLS")
        finally:
            daemon.terminate()
        assert "kp-9f3a-secret" not in daemon.log(), "a secret must never be logged"
    finally:
        broker.stop()


def test_health_event_reports_devices_outbox_and_link(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "storegw/v1/+/+/health")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=SYNTHETIC.format(rate=20, payload=8), health_interval_s=1)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) >= 2, what="two health events")
    finally:
        daemon.terminate()
    health = sub.events()[-1]
    validate_event(health)
    data = health["data"]
    assert data["devices"]["load"]["state"] in ("connected", "starting")
    assert data["devices"]["load"]["readings"] > 0
    assert data["mqtt"]["connected"] is True and data["mqtt"]["last_puback_age_s"] is not None
    assert data["outbox"]["last_seq"] > 0 and data["disk_free_bytes"] > 0
    assert json.dumps(data)  # plain JSON all the way down
    sub.close()
