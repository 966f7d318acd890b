"""An MQTT client logged in as one broker user, for ACL tests: it reports SUBACK and PUBACK codes and what it receives.

Under MQTT 5 a broker answers a publish it refuses with a PUBACK reason code (135, not authorized); under MQTT
3.1.1 (nats-server) a refused publish is dropped without a word, and a subscriber proves the drop: see
``not_delivered``.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from tests.support.peers import wait_for

NOT_AUTHORIZED = 135
"""MQTT 5 reason code 0x87, in a PUBACK or SUBACK the broker refused."""


class MqttUser:
    """One connected paho client with a username and password; every call waits for the broker's answer."""

    def __init__(self, port: int, username: str, password: str, *, protocol: int = paho.MQTTv5,
                 client_id: str | None = None, will: tuple[str, bytes] | None = None) -> None:
        """Connect as ``username`` (``will``: a retained QoS 1 last will) and wait for the CONNACK."""
        self.username = username
        self.protocol = protocol
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connack: Any = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self._pubacks: dict[int, Any] = {}
        self._subacks: dict[int, list[Any]] = {}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol,
                                  client_id=client_id or f"acl-{uuid.uuid4().hex[:10]}")
        self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        wait_for(lambda: self.connack is not None, 20, f"the CONNACK of {username}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        """Keep the CONNACK's reason (runs on paho's thread)."""
        self.connack = reason
        if not reason.is_failure:
            self.connected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Collect a message (runs on paho's thread)."""
        with self.lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        """Keep a PUBACK's reason code (runs on paho's thread)."""
        with self.lock:
            self._pubacks[mid] = reason

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: list[Any], properties: Any) -> None:
        """Keep a SUBACK's codes (runs on paho's thread)."""
        with self.lock:
            self._subacks[mid] = reasons

    def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """Subscribe and return the SUBACK's code: the granted QoS, or >= 128 if refused."""
        result, mid = self.client.subscribe(topic_filter, qos=qos)
        assert result == paho.MQTT_ERR_SUCCESS, f"{self.username}: subscribe {topic_filter} not sent ({result})"
        reasons = wait_for(lambda: self._subacks.get(mid), 20, f"the SUBACK of {topic_filter}")
        return int(reasons[0].value)

    def publish(self, topic: str, payload: bytes = b"{}", *, retain: bool = False, qos: int = 1,
                properties: Properties | None = None) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code (0 under MQTT 3.1.1, whose PUBACK has none)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos == 0:
            info.wait_for_publish(20)
            return 0
        reason = wait_for(lambda: self._pubacks.get(info.mid), 20, f"the PUBACK of {topic}")
        return int(reason.value)

    def received(self, topic: str) -> list[bytes]:
        """Payloads received on exactly ``topic``."""
        with self.lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def wait_message(self, topic: str, payload: bytes | None = None, timeout: float = 20) -> bytes:
        """Wait for a message on ``topic`` (with ``payload`` if given) and return its payload."""

        def found() -> bytes | None:
            """The first matching payload, once received."""
            return next((p for p in self.received(topic) if payload is None or p == payload), None)

        return wait_for(found, timeout, f"{self.username} to receive {topic}")  # type: ignore[no-any-return]

    def close(self) -> None:
        """Disconnect cleanly (no will) and stop paho's thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT, as a power cut would, so that the broker sends the will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()


def not_delivered(observer: MqttUser, publisher: MqttUser, topic: str, sentinel_topic: str,
                  payload: bytes | None = None) -> None:
    """Assert that ``observer`` never got what ``publisher`` just sent on ``topic`` (``payload``: only that one).

    ``publisher`` sends a unique sentinel on ``sentinel_topic``, which ``observer`` is allowed to receive, on the
    same connection: a broker forwards one connection's messages in order, so once the sentinel is in, anything
    sent before it on ``topic`` would be in too.
    """
    marker = uuid.uuid4().hex.encode()
    publisher.publish(sentinel_topic, marker)
    observer.wait_message(sentinel_topic, marker)
    got = [p for p in observer.received(topic) if payload is None or p == payload]
    assert got == [], f"{observer.username} received {topic}"
