"""mqtt.urls against real brokers: the daemon skips a dead broker, and fails over when its broker dies.

Every committed sequence must reach a subscriber of one broker or the other; what the killed broker
took (PUBACK) but never passed on is asked for again with cmd/replay on the second broker, as a
backend would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from gateway.cli.outbox import read_stats
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto, free_port, mosquitto_binary
from tests.support.nats import NatsServer, nats_binary
from tests.support.peers import Daemon, Subscriber, wait_for, write_config
from tests.support.proxy import BlackholeProxy

BASE = "storegw/v1/store-t/gw-t"
SYNTHETIC = """
[[devices]]
id = "load"
kind = "synthetic"
rate = 200
"""


@pytest.fixture
def two_mosquittos() -> Iterator[tuple[Mosquitto, Mosquitto]]:
    """Two independent mosquittos on their own ports."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    first, second = Mosquitto().start(), Mosquitto().start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def two_nats() -> Iterator[tuple[NatsServer, NatsServer]]:
    """Two independent nats-servers with JetStream and their MQTT listener (MQTT 3.1.1 only)."""
    if nats_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    first = NatsServer().start()
    try:
        second = NatsServer().start()
    except BaseException:
        first.remove()
        raise
    yield first, second
    first.remove()
    second.remove()


def status_of(data_dir: Path) -> dict:
    """The running daemon's `storegw status` data."""
    return request_status(str(data_dir / "storegw.sock"))


def last_committed(data_dir: Path) -> int:
    """The last sequence the outbox committed."""
    return int(read_stats(str(data_dir / "outbox.db"))["last_seq"])


def received(*subs: Subscriber) -> set[int]:
    """Every sequence any of ``subs`` received."""
    return set().union(*(sub.sequences() for sub in subs))


def fill_gaps_by_replay(asker: Subscriber, data_dir: Path, *subs: Subscriber) -> tuple[int, int]:
    """Ask for what no subscriber has (cmd/replay, as a backend would); wait until 1..last all arrived.

    Returns (last committed sequence, how many had to be replayed).
    """
    last = last_committed(data_dir)
    missing = sorted(set(range(1, last + 1)) - received(*subs))
    if missing:
        asker.publish(f"{BASE}/cmd/replay", json.dumps({"from_seq": missing[0], "to_seq": missing[-1],
                                                        "request_id": "gaps"}).encode())
        answer = json.loads(wait_for(lambda: asker.on_topic("/cmd-res/replay"), what="the replay answer")[0])
        assert answer["ok"] is True and answer["request_id"] == "gaps", answer
    wait_for(lambda: set(range(1, last + 1)) <= received(*subs), timeout=40,
             what=f"every sequence 1..{last} on one broker or the other")
    return last, len(missing)


def test_a_dead_first_broker_is_skipped_and_everything_arrives_on_the_next(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """urls = [nobody listens, mosquitto]: the gateway connects to the second and delivers every sequence."""
    dead = free_port()
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=data, devices=SYNTHETIC,
                          urls=[f"mqtt://127.0.0.1:{dead}", mosquitto.url])
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 300, what="300 events on the second broker")
        status = status_of(data)
        assert status["mqtt"]["connected"] is True
        assert status["mqtt"]["broker"] == f"127.0.0.1:{mosquitto.port}"
    finally:
        assert daemon.terminate() == 0
    last = last_committed(data)
    assert last > 300 and set(range(1, last + 1)) <= sub.sequences()
    assert f"cannot connect to 127.0.0.1:{dead}" in daemon.log()
    assert f"trying 127.0.0.1:{mosquitto.port} next" in daemon.log()
    sub.close()


def test_killing_the_broker_in_use_fails_over_to_the_second_without_losing_a_sequence(
        tmp_path: Path, two_mosquittos: tuple[Mosquitto, Mosquitto]) -> None:
    """The first broker is SIGKILLed mid-stream: the gateway moves to the second; 1..last all arrive."""
    first, second = two_mosquittos
    on_first, on_second = Subscriber(first.port, "storegw/v1/#"), Subscriber(second.port, "storegw/v1/#")
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", port=first.port, data_dir=data, devices=SYNTHETIC,
                          urls=[first.url, second.url])
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(on_first.events()) > 300, what="300 events on the first broker")
        assert status_of(data)["mqtt"]["broker"] == f"127.0.0.1:{first.port}"
        assert on_second.events() == [], "nothing goes to the second broker while the first works"
        first.stop()
        wait_for(lambda: len(on_second.events()) > 300, what="300 events on the second broker")
        status = status_of(data)
        assert status["mqtt"]["connected"] is True and status["mqtt"]["broker"] == f"127.0.0.1:{second.port}"
        last, replayed = fill_gaps_by_replay(on_second, data, on_first, on_second)
    finally:
        assert daemon.terminate() == 0
    assert last > 300
    online = [json.loads(p) for p in on_second.on_topic("/state")]
    assert online[0]["online"] is True, "the birth is published on the second broker too"
    print(f"failover between mosquittos: 1..{last} all received, {replayed} replayed")
    on_first.close()
    on_second.close()


def test_nats_mqtt_3_1_1_failover_between_two_servers(tmp_path: Path,
                                                      two_nats: tuple[NatsServer, NatsServer]) -> None:
    """The same failover with nats-server's MQTT listener, which speaks MQTT 3.1.1 only."""
    first, second = two_nats
    on_first = Subscriber(first.mqtt_port, "storegw/v1/#", protocol=paho.MQTTv311)
    on_second = Subscriber(second.mqtt_port, "storegw/v1/#", protocol=paho.MQTTv311)
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", port=first.mqtt_port, data_dir=data, devices=SYNTHETIC,
                          urls=[first.url, second.url], mqtt_extra='protocol = "3.1.1"')
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(on_first.events()) > 300, what="300 events on the first nats-server")
        assert status_of(data)["mqtt"]["broker"] == f"127.0.0.1:{first.mqtt_port}"
        first.stop()
        wait_for(lambda: len(on_second.events()) > 300, what="300 events on the second nats-server")
        assert status_of(data)["mqtt"]["broker"] == f"127.0.0.1:{second.mqtt_port}"
        last, replayed = fill_gaps_by_replay(on_second, data, on_first, on_second)
    finally:
        assert daemon.terminate() == 0
    assert last > 300
    print(f"failover between nats-servers: 1..{last} all received, {replayed} replayed")
    on_first.close()
    on_second.close()


def test_the_puback_watchdog_moves_the_gateway_to_the_next_broker(
        tmp_path: Path, two_mosquittos: tuple[Mosquitto, Mosquitto]) -> None:
    """A first broker that stops acknowledging (black-holed) counts as failed: the gateway moves on."""
    first, second = two_mosquittos
    proxy = BlackholeProxy(first.port)
    on_first, on_second = Subscriber(first.port, "storegw/v1/#"), Subscriber(second.port, "storegw/v1/#")
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", port=proxy.port, data_dir=data, devices=SYNTHETIC,
                          urls=[f"mqtt://127.0.0.1:{proxy.port}", second.url],
                          mqtt_extra="keepalive_s = 5\npuback_timeout_s = 2")
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(on_first.events()) > 100, what="events through the proxy to the first broker")
        proxy.blackhole()
        wait_for(lambda: len(on_second.events()) > 100, what="events on the second broker after the watchdog")
        assert status_of(data)["mqtt"]["broker"] == f"127.0.0.1:{second.port}"
        fill_gaps_by_replay(on_second, data, on_first, on_second)
    finally:
        assert daemon.terminate() == 0
        proxy.close()
    assert "no PUBACK" in daemon.log() or "connection lost" in daemon.log()
    on_first.close()
    on_second.close()


def test_nats_server_is_on_this_machine_or_the_nats_tests_say_why() -> None:
    """The NATS tests skip only when the binary is missing, never silently for another reason."""
    if shutil.which("nats-server") is None and nats_binary() is None:
        pytest.skip("nats-server is not installed")
    assert nats_binary() is not None
