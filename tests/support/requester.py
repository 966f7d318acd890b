"""An MQTT 5 client for integration tests that sends commands with correlation data and keeps what it hears
(retain flag and correlation data included)."""

from __future__ import annotations

import itertools
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.peers import wait_for

BASE = "storegw/v1/store-t/gw-t"
"""The base topic of tests.support.peers.write_config's gateway."""
_ids = itertools.count()


@dataclass(frozen=True)
class Heard:
    """One message received."""

    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


class Requester:
    """Subscribes to ``topic`` (everything of the gateway by default) on connect; sends commands."""

    def __init__(self, port: int, topic: str = f"{BASE}/#") -> None:
        """Connect to the broker on ``port`` and wait for the subscription."""
        self.heard: list[Heard] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-req-{os.getpid()}-{next(_ids)}",
                                  protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: self._subscribed.set()
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test client could not subscribe"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Keep one message (paho's thread)."""
        correlation = getattr(message.properties, "CorrelationData", None) if message.properties else None
        with self._lock:
            self.heard.append(Heard(message.topic, message.payload, bool(message.retain), correlation))

    def on(self, suffix: str) -> list[Heard]:
        """Messages on topics ending with ``suffix``, in arrival order."""
        with self._lock:
            return [h for h in self.heard if h.topic.endswith(suffix)]

    def command(self, name: str, request: dict[str, Any], correlation: bytes | None = None,
                timeout: float = 60.0) -> Heard:
        """Send cmd/{name} (with MQTT 5 correlation data if given) and wait for the answer carrying its request_id."""
        properties = None
        if correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation
            properties.ResponseTopic = f"{BASE}/cmd-res/{name}"
        self.client.publish(f"{BASE}/cmd/{name}", json.dumps(request), qos=1,
                            properties=properties).wait_for_publish(10)
        request_id = request.get("request_id")

        def answered() -> Heard | None:
            """The answer to this request, once it arrived."""
            return next((h for h in self.on(f"/cmd-res/{name}") if h.json().get("request_id") == request_id), None)

        found: Heard = wait_for(answered, timeout, f"the answer to cmd/{name} {request_id}")
        return found

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
