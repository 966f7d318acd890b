"""The backend's side: one MQTT 3.1.1 subscriber on the fleet's topics, checking every gateway's stream.

Per gateway it keeps what `storegw verify` keeps (gateway/consumer.py: StreamCheck for duplicates and
gaps, ReplayWait for cmd/replay), plus the newest event time (for "is it delivering now"), its `config`
events, its command answers and its births. It publishes the commands (cmd/config-apply, cmd/replay).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.consumer import ReplayWait, StreamCheck
from gateway.mqtt.settings import parse_url

CONFIG_TYPE = "storegw.config.v1"


def event_epoch(stamp: str) -> float:
    """An envelope's RFC 3339 `time` as epoch seconds."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass
class Stream:
    """What the listener knows about one gateway."""

    check: StreamCheck = field(default_factory=StreamCheck)
    replay: ReplayWait = field(default_factory=ReplayWait)
    newest: float = 0.0
    """The newest event `time` received (epoch s); 0 before any."""
    configs: list[dict[str, Any]] = field(default_factory=list)
    """The data of every `config` event, in arrival order (duplicates skipped)."""
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """command name -> answers received."""
    births: list[float] = field(default_factory=list)
    """Arrival times (time.time()) of online `state` messages that were not retained."""
    filler: int = -1
    """Length of the filler of the newest synthetic event: shows which config the device runs."""


class Listener:
    """A paho client (MQTT 3.1.1) subscribed to ``prefix/#`` on one node, sorting everything per gateway."""

    def __init__(self, url: str, prefix: str) -> None:
        """Connect to the node at ``url`` and subscribe at QoS 1; returns once subscribed."""
        self.prefix = prefix.rstrip("/")
        self.lock = threading.Lock()
        self.streams: dict[str, Stream] = {}
        self.deliveries = 0
        self.subscribed = threading.Event()
        host, port, _ = parse_url(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-listener-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv311)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{self.prefix}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self.client.max_inflight_messages_set(200)
        self.client.connect(host, port, 30)
        self.client.loop_start()
        if not self.subscribed.wait(30):
            raise RuntimeError(f"the listener could not subscribe on {url}")

    def stream(self, key: str) -> Stream:
        """The stream of gateway ``key`` (store/gateway), created on first use (call with the lock held)."""
        found = self.streams.get(key)
        if found is None:
            found = self.streams[key] = Stream()
        return found

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Sort one message (paho's thread): event, command answer or state."""
        parts = message.topic[len(self.prefix) + 1:].split("/")
        if len(parts) < 3:
            return
        key, rest = f"{parts[0]}/{parts[1]}", parts[2:]
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with self.lock:
            stream = self.stream(key)
            if rest[0] == "cmd-res" and len(rest) == 2 and isinstance(payload, dict):
                stream.answers.setdefault(rest[1], []).append(payload)
                if rest[1] == "replay":
                    stream.replay.answer(payload)
            elif rest == ["state"]:
                if isinstance(payload, dict) and payload.get("online") and not message.retain:
                    stream.births.append(time.time())
            elif isinstance(payload, dict) and "sequence" in payload:
                self.deliveries += 1
                if not stream.check.add(payload):
                    return
                stream.newest = max(stream.newest, event_epoch(payload["time"]))
                if payload["type"] == CONFIG_TYPE:
                    stream.configs.append(payload["data"])
                elif payload["type"] == "storegw.synthetic.v1":
                    stream.filler = len(payload["data"].get("filler", ""))

    def send(self, base: str, name: str, request: dict[str, Any]) -> None:
        """Publish one command to the gateway at topic ``base`` (QoS 1; does not wait for the answer)."""
        self.client.publish(f"{base}/cmd/{name}", json.dumps(request), qos=1)

    def answer(self, key: str, name: str, request_id: str) -> dict[str, Any] | None:
        """The answer to request ``request_id`` of command ``name``, once received."""
        with self.lock:
            found = self.stream(key).answers.get(name, [])
            return next((a for a in found if a.get("request_id") == request_id), None)

    def lagging(self, keys: list[str], lag_s: float, at: float | None = None) -> list[str]:
        """The gateways among ``keys`` whose newest received event is older than ``lag_s`` (none yet: lagging)."""
        moment = time.time() if at is None else at
        with self.lock:
            return [k for k in keys if moment - self.stream(k).newest > lag_s]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
