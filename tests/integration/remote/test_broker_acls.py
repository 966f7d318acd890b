"""README's broker ACLs, read from README.md as written, against a real mosquitto and a real nats-server.

The two fenced blocks of README's "Who may publish commands is the broker's decision" are the product here: the
test fills in passwords, adds gateways by copying the README's gateway entry (store-0042/gw-01) for another store
and for the daemon, and checks with real clients that a gateway publishes its events, state and will and gets
its commands, cannot command or read another gateway, and that the backend commands any gateway and reads all.
Mosquitto speaks MQTT 5 here, so a refused publish is seen in its PUBACK (135); nats-server speaks MQTT 3.1.1,
which drops a refused publish without a word, so a subscriber that would have received it proves the drop.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.support.broker import Mosquitto, mosquitto_binary
from tests.support.mqtt_user import NOT_AUTHORIZED, MqttUser, not_delivered
from tests.support.nats import NatsServer, nats_binary
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, wait_for, write_config

README = REPO_ROOT / "README.md"
SECTION = "**Who may publish commands is the broker's decision.**"
MOSQUITTO_INTRO = "Mosquitto (`acl_file`"
NATS_INTRO = "NATS (its MQTT listener"

STORE, GATEWAY = "store-0042", "gw-01"
"""The gateway of README's examples."""
OTHER = ("store-0043", "gw-02")
"""Another store's gateway, made by copying README's gateway entry."""
DAEMON = ("store-t", "gw-t")
"""The ids that tests.support.peers.write_config gives the daemon."""
BACKEND = "backend"


def base(store: str, gateway: str) -> str:
    """The topic base of one gateway."""
    return f"storegw/v1/{store}/{gateway}"


def username(store: str, gateway: str) -> str:
    """The broker username README gives a gateway."""
    return f"{store}.{gateway}"


A, B = base(STORE, GATEWAY), base(*OTHER)


def readme_block(intro: str) -> str:
    """The first fenced code block after ``intro`` in README's ACL section, without its fences."""
    text = README.read_text()
    section = text.index(SECTION)
    start = text.index("\n```\n", text.index(intro, section)) + len("\n```\n")
    return text[start:text.index("\n```\n", start) + 1]


def for_gateway(entry: str, store: str, gateway: str) -> str:
    """README's gateway entry rewritten for another gateway."""
    return entry.replace(STORE, store).replace(GATEWAY, gateway)


@dataclass
class Fleet:
    """A broker running README's ACL, and every user's password."""

    port: int
    passwords: dict[str, str]
    protocol: int
    nats: NatsServer | None = None
    """The nats-server, for a login over its plain NATS port."""

    def login(self, user: str, **options: object) -> MqttUser:
        """A client connected as ``user`` (a gateway's client id is the daemon's: storegw-STORE-GW)."""
        client_id = f"storegw-{user.replace('.', '-')}" if user != BACKEND else None
        client = MqttUser(self.port, user, self.passwords[user], protocol=self.protocol, client_id=client_id,
                          **options)  # type: ignore[arg-type]
        assert client.connected.is_set(), f"{user} refused: {client.connack}"
        return client


def passwords() -> dict[str, str]:
    """A fresh password for README's gateway, the other gateway, the daemon and the backend."""
    users = [username(STORE, GATEWAY), username(*OTHER), username(*DAEMON), BACKEND]
    return {user: secrets.token_hex(12) for user in users}


# ---- mosquitto ---------------------------------------------------------------------------------------------

def mosquitto_acl() -> str:
    """README's acl_file with one more block per gateway, copied from README's gateway block."""
    block = readme_block(MOSQUITTO_INTRO)
    match = re.search(rf"^user {re.escape(username(STORE, GATEWAY))}\n(?:topic .*\n)+", block, re.MULTILINE)
    assert match, f"README's mosquitto block has no block for user {username(STORE, GATEWAY)}:\n{block}"
    return block + "".join("\n" + for_gateway(match.group(0), *ids) for ids in (OTHER, DAEMON))


@pytest.fixture
def mosquitto_fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A mosquitto (MQTT 5) with README's acl_file and a password_file made by mosquitto_passwd."""
    if mosquitto_binary() is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto or mosquitto_passwd is not installed (apt-get install mosquitto)")
    users = passwords()
    password_file = tmp_path / "passwd"
    password_file.touch()
    for user, password in users.items():
        subprocess.run(["mosquitto_passwd", "-b", str(password_file), user, password], check=True,
                       capture_output=True)
    acl_file = tmp_path / "acl"
    acl_file.write_text(mosquitto_acl())
    broker = Mosquitto(password_file=str(password_file), acl_file=str(acl_file)).start()
    yield Fleet(broker.port, users, paho.MQTTv5)
    broker.stop()


def test_mosquitto_refuses_unknown_users(mosquitto_fleet: Fleet) -> None:
    """Without the right password nobody gets in (else every ACL below would test the anonymous user)."""
    wrong = MqttUser(mosquitto_fleet.port, BACKEND, "not-the-password")
    assert wrong.connack.is_failure
    wrong.close()


def test_mosquitto_gateway_publishes_its_own_topics_and_gets_its_commands(mosquitto_fleet: Fleet) -> None:
    """Events, retained state, device state, answers and the will go through; a backend command arrives."""
    backend = mosquitto_fleet.login(BACKEND)
    assert backend.subscribe("storegw/v1/#") == 1
    gateway = mosquitto_fleet.login(username(STORE, GATEWAY), will=(f"{A}/state", b'{"online": false}'))
    assert gateway.subscribe(f"{A}/cmd/+") == 1
    for topic, retain in ((f"{A}/health", False), (f"{A}/state", True), (f"{A}/devices/door-1/state", True),
                          (f"{A}/cmd-res/rebirth", False)):
        assert gateway.publish(topic, b"from-a", retain=retain) == 0, topic
        backend.wait_message(topic, b"from-a")
    assert backend.publish(f"{A}/cmd/rebirth", b"cmd-a") == 0
    gateway.wait_message(f"{A}/cmd/rebirth", b"cmd-a")
    gateway.drop()
    backend.wait_message(f"{A}/state", b'{"online": false}')
    late = mosquitto_fleet.login(BACKEND)
    late.subscribe(f"{A}/state")
    late.wait_message(f"{A}/state", b'{"online": false}')  # the will was kept as retained
    for client in (backend, late):
        client.close()


def test_mosquitto_gateway_cannot_command_or_read_another_gateway(mosquitto_fleet: Fleet) -> None:
    """A's PUBACKs say not authorized for B's commands and B's topics; B's commands never reach A."""
    backend = mosquitto_fleet.login(BACKEND)
    backend.subscribe("storegw/v1/#")
    gateway_a = mosquitto_fleet.login(username(STORE, GATEWAY))
    gateway_b = mosquitto_fleet.login(username(*OTHER))
    gateway_b.subscribe(f"{B}/cmd/+")
    for topic in (f"{B}/cmd/rebirth", f"{B}/cmd/config-apply", f"{B}/state", f"{B}/health", "storegw/v1/x"):
        assert gateway_a.publish(topic, b"from-a") == NOT_AUTHORIZED, topic
    # mosquitto 2.0 grants any SUBSCRIBE and filters on delivery (2.1 refuses it): either way nothing arrives
    gateway_a.subscribe(f"{B}/cmd/+")
    gateway_a.subscribe("storegw/v1/#")
    assert gateway_a.subscribe(f"{A}/cmd/+") == 1
    assert backend.publish(f"{B}/cmd/rebirth", b"cmd-b") == 0
    gateway_b.wait_message(f"{B}/cmd/rebirth", b"cmd-b")
    not_delivered(gateway_a, backend, f"{B}/cmd/rebirth", f"{A}/cmd/sentinel")
    for client in (backend, gateway_a, gateway_b):
        client.close()


def test_mosquitto_backend_commands_every_gateway_and_reads_all(mosquitto_fleet: Fleet) -> None:
    """The backend commands A and B and reads their events and answers; it cannot forge a gateway's events."""
    backend = mosquitto_fleet.login(BACKEND)
    backend.subscribe("storegw/v1/#")
    gateways = {A: mosquitto_fleet.login(username(STORE, GATEWAY)), B: mosquitto_fleet.login(username(*OTHER))}
    for topic_base, gateway in gateways.items():
        gateway.subscribe(f"{topic_base}/cmd/+")
        assert backend.publish(f"{topic_base}/cmd/replay", b"cmd") == 0
        gateway.wait_message(f"{topic_base}/cmd/replay", b"cmd")
        for suffix in ("health", "cmd-res/replay"):
            gateway.publish(f"{topic_base}/{suffix}", b"answer")
            backend.wait_message(f"{topic_base}/{suffix}", b"answer")
        assert backend.publish(f"{topic_base}/health", b"forged") == NOT_AUTHORIZED
        assert backend.publish(f"{topic_base}/state", b"forged", retain=True) == NOT_AUTHORIZED
    for client in (backend, *gateways.values()):
        client.close()


# ---- nats-server -------------------------------------------------------------------------------------------

def nats_authorization(users: dict[str, str]) -> str:
    """README's authorization block with one more gateway entry per gateway and the passwords filled in."""
    block = readme_block(NATS_INTRO)
    entry = re.search(rf'^[ \t]*\{{user: "{re.escape(username(STORE, GATEWAY))}".*?^[ \t]*\}}\}}\n', block,
                      re.MULTILINE | re.DOTALL)
    assert entry, f"README's NATS block has no entry for user {username(STORE, GATEWAY)}:\n{block}"
    more = "".join(for_gateway(entry.group(0), *ids) for ids in (OTHER, DAEMON))
    block = block[:entry.end()] + more + block[entry.end():]
    filled, count = re.subn(r'\{user: "([^"]+)", password: "\.\.\."',
                            lambda m: f'{{user: "{m[1]}", password: "{users[m[1]]}"', block)
    assert count == len(users), f"expected a password placeholder for each of {sorted(users)}:\n{block}"
    return filled


@pytest.fixture
def nats_fleet() -> Iterator[Fleet]:
    """A nats-server (JetStream, MQTT 3.1.1) with README's authorization block."""
    if nats_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    users = passwords()
    server = NatsServer(extra_config=nats_authorization(users), ready_credentials=(BACKEND, users[BACKEND]))
    server.start()
    yield Fleet(server.mqtt_port, users, paho.MQTTv311, server)
    server.remove()


def nats_core_login(port: int, user: str, password: str) -> bytes:
    """Log in with the plain NATS protocol (not MQTT) and return the server's first answer line."""
    with socket.create_connection(("127.0.0.1", port), 10) as sock, sock.makefile("rb") as stream:
        assert stream.readline().startswith(b"INFO ")
        connect = {"user": user, "pass": password, "verbose": False, "pedantic": False}
        sock.sendall(f"CONNECT {json.dumps(connect)}\r\nSUB $MQTT.sub.> 1\r\nPING\r\n".encode())
        return stream.readline()


def test_nats_refuses_unknown_users(nats_fleet: Fleet) -> None:
    """Without the right password nobody gets in."""
    wrong = MqttUser(nats_fleet.port, BACKEND, "not-the-password", protocol=paho.MQTTv311)
    assert wrong.connack.is_failure
    wrong.close()


def test_nats_gateway_publishes_its_own_topics_and_gets_its_commands(nats_fleet: Fleet) -> None:
    """QoS 1 events, retained state, answers and the will go through; a backend command arrives at QoS 1."""
    backend = nats_fleet.login(BACKEND)
    assert backend.subscribe("storegw/v1/#") == 1
    gateway = nats_fleet.login(username(STORE, GATEWAY), will=(f"{A}/state", b'{"online": false}'))
    assert gateway.subscribe(f"{A}/cmd/+") == 1  # needs $MQTT.sub.>: a QoS 1 subscription is a JetStream consumer
    for topic, retain in ((f"{A}/health", False), (f"{A}/state", True), (f"{A}/devices/door-1/state", True),
                          (f"{A}/cmd-res/rebirth", False)):
        gateway.publish(topic, b"from-a", retain=retain)
        backend.wait_message(topic, b"from-a")
    late = nats_fleet.login(BACKEND)
    late.subscribe(f"{A}/devices/+/state")
    late.wait_message(f"{A}/devices/door-1/state", b"from-a")  # kept as retained
    backend.publish(f"{A}/cmd/rebirth", b"cmd-a")
    gateway.wait_message(f"{A}/cmd/rebirth", b"cmd-a")
    gateway.drop()
    backend.wait_message(f"{A}/state", b'{"online": false}')
    later = nats_fleet.login(BACKEND)
    later.subscribe(f"{A}/state")
    later.wait_message(f"{A}/state", b'{"online": false}')  # the will replaced the retained state
    for client in (backend, late, later):
        client.close()


def test_nats_gateway_cannot_command_another_gateway_nor_itself(nats_fleet: Fleet) -> None:
    """Commands from a gateway are dropped, also when written to JetStream's own subjects ($MQTT.msgs)."""
    backend = nats_fleet.login(BACKEND)
    backend.subscribe("storegw/v1/#", qos=0)  # QoS 0: delivered in the order A published (see not_delivered)
    gateway_a = nats_fleet.login(username(STORE, GATEWAY))
    gateway_b = nats_fleet.login(username(*OTHER))
    assert gateway_b.subscribe(f"{B}/cmd/+") == 1
    for topic in (f"{B}/cmd/rebirth", f"{A}/cmd/rebirth", f"{B}/state"):
        gateway_a.publish(topic, b"from-a")
        not_delivered(backend, gateway_a, topic, f"{A}/health", b"from-a")
    # a QoS 1 message is stored on $MQTT.msgs.<subject> and B's consumer delivers from there: A must not write it
    gateway_a.publish(f"$MQTT/msgs/{B}/cmd/config-apply", b"injected")
    backend.publish(f"{B}/cmd/sentinel", b"after")  # the same stream, so B's consumer delivers it after
    gateway_b.wait_message(f"{B}/cmd/sentinel", b"after")
    assert gateway_b.received(f"{B}/cmd/config-apply") == []
    assert gateway_a.client.is_connected()
    for client in (backend, gateway_a, gateway_b):
        client.close()


def test_nats_gateway_cannot_read_another_gateway(nats_fleet: Fleet) -> None:
    """B's commands and the account's internal subjects are refused at SUBSCRIBE, also to a plain NATS login."""
    gateway_a = nats_fleet.login(username(STORE, GATEWAY))
    for topic_filter in (f"{B}/cmd/+", "storegw/v1/#", f"{B}/#", "$MQTT/msgs/#", "$MQTT/+/#", "$MQTT/sub/#"):
        assert gateway_a.subscribe(topic_filter) == 128, topic_filter
    assert gateway_a.subscribe(f"{A}/cmd/+") == 1
    backend = nats_fleet.login(BACKEND)
    backend.publish(f"{B}/cmd/rebirth", b"cmd-b")
    backend.publish(f"{A}/cmd/sentinel", b"after")
    gateway_a.wait_message(f"{A}/cmd/sentinel", b"after")
    assert gateway_a.received(f"{B}/cmd/rebirth") == []
    # the server refuses $MQTT.sub. to MQTT clients only; a NATS client would get every QoS 1 delivery there
    assert nats_fleet.nats is not None
    user = username(STORE, GATEWAY)
    answer = nats_core_login(nats_fleet.nats.port, user, nats_fleet.passwords[user])
    assert answer.startswith(b"-ERR") and b"Authorization" in answer, answer
    for client in (backend, gateway_a):
        client.close()


def test_nats_backend_commands_every_gateway_and_reads_all(nats_fleet: Fleet) -> None:
    """The backend commands A and B and reads their events and answers; it cannot forge a gateway's events."""
    backend = nats_fleet.login(BACKEND)
    assert backend.subscribe("storegw/v1/#", qos=0) == 0
    observer = nats_fleet.login(BACKEND)
    observer.subscribe("storegw/v1/#", qos=0)
    gateways = {A: nats_fleet.login(username(STORE, GATEWAY)), B: nats_fleet.login(username(*OTHER))}
    for topic_base, gateway in gateways.items():
        assert gateway.subscribe(f"{topic_base}/cmd/+") == 1
        backend.publish(f"{topic_base}/cmd/replay", b"cmd")
        gateway.wait_message(f"{topic_base}/cmd/replay", b"cmd")
        for suffix in ("health", "cmd-res/replay"):
            gateway.publish(f"{topic_base}/{suffix}", b"answer")
            backend.wait_message(f"{topic_base}/{suffix}", b"answer")
        backend.publish(f"{topic_base}/health", b"forged")
        not_delivered(observer, backend, f"{topic_base}/health", f"{topic_base}/cmd/sentinel", b"forged")
    for client in (backend, observer, *gateways.values()):
        client.close()


# ---- the daemon under the ACL ------------------------------------------------------------------------------

SYNTHETIC = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 20\n'


@pytest.mark.parametrize("broker", ["mosquitto", "nats"])
def test_daemon_runs_under_the_acl(broker: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """`storegw run` as user store-t.gw-t: birth, events and device state arrive; cmd/rebirth is answered."""
    fleet: Fleet = request.getfixturevalue(f"{broker}_fleet")
    user, topic_base = username(*DAEMON), base(*DAEMON)
    secret = tmp_path / "mqtt.password"
    secret.write_text(fleet.passwords[user] + "\n")
    secret.chmod(0o600)
    protocol = 'protocol = "3.1.1"\n' if fleet.protocol == paho.MQTTv311 else ""
    backend = fleet.login(BACKEND)
    backend.subscribe(f"{topic_base}/#")
    config = write_config(tmp_path / "storegw.toml", port=fleet.port, data_dir=tmp_path / "data", devices=SYNTHETIC,
                          mqtt_extra=f'username = "{user}"\npassword_file = "{secret}"\n{protocol}')
    daemon = Daemon(config).start()
    try:
        def births() -> list[dict[str, object]]:
            """The births received so far."""
            return [b for b in map(json.loads, backend.received(f"{topic_base}/state")) if b.get("online")]

        wait_for(births, 30, "the daemon's birth")
        events = wait_for(lambda: [json.loads(p) for p in backend.received(f"{topic_base}/synthetic")], 30,
                          "an event")
        assert events[0]["type"] == "storegw.synthetic.v1"
        backend.wait_message(f"{topic_base}/devices/load/state")
        request_id = uuid.uuid4().hex
        backend.publish(f"{topic_base}/cmd/rebirth", json.dumps({"request_id": request_id}).encode())

        def answer() -> dict[str, object] | None:
            """The rebirth's answer, once received."""
            found = [json.loads(p) for p in backend.received(f"{topic_base}/cmd-res/rebirth")]
            return next((a for a in found if a.get("request_id") == request_id), None)

        assert wait_for(answer, 30, "the rebirth's answer")["ok"] is True
        assert len(wait_for(lambda: len(births()) >= 2 and births(), 30, "the second birth")) >= 2
        assert "not authorized" not in daemon.log().lower()
        assert daemon.terminate() == 0
    finally:
        if daemon.alive():
            daemon.kill()
        backend.close()
