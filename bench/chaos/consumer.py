"""The chaos suite's backend: a paho subscriber recording every event and sending commands.

The subscriber uses a persistent MQTT 5 session (clean_start false, one hour expiry) and
subscribes again on every connect, because a mosquitto without persistence forgets sessions
when it is killed. It keeps, per sequence number, the ids it was delivered with (two different
ids for one sequence is the reuse the suite exists to catch), the arrival time of every new
sequence (for the longest stall), the state messages and the command answers.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
import uuid
from array import array
from dataclasses import dataclass, field
from typing import Any

import msgspec
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

SESSION_EXPIRY_S = 3600
CONNECT_TIMEOUT_S = 10.0
PUBLISH_TIMEOUT_S = 10.0


@dataclass
class Answer:
    """One `cmd-res/replay` answer as received."""

    at: float
    payload: dict[str, Any]


@dataclass
class Consumer:
    """A backend subscribed to ``{base}/#`` at QoS 1; thread-safe snapshots for the harness."""

    host: str
    port: int
    base: str
    client_id: str = field(default_factory=lambda: f"chaos-consumer-{uuid.uuid4().hex[:8]}")
    sabotage: str | None = None
    """For checking the checker: "drop" ignores every delivery of one sequence, "reuse" invents a second id."""
    sabotage_seq: int = 100

    def __post_init__(self) -> None:
        """Empty records and a paho client (not connected yet)."""
        self.lock = threading.Lock()
        self.ids: dict[int, str] = {}
        self.reused: dict[int, set[str]] = {}
        self.seq_of_id: dict[str, int] = {}
        self.id_two_seqs: dict[str, set[int]] = {}
        self.deliveries = 0
        self.duplicates = 0
        self.bad_payloads = 0
        self.new_times = array("d")
        self.new_seqs = array("q")
        self.synthetic: dict[int, tuple[int, int]] = {}
        """seq -> (gwboot, data.n) of synthetic events: gaps in n show events lost before their commit."""
        self.states: list[tuple[float, dict[str, Any]]] = []
        self.answers: dict[str, list[Answer]] = {}
        self.gap_events: list[dict[str, Any]] = []
        self.connects = 0
        self.disconnects = 0
        self.last_message = time.monotonic()
        self._connected = threading.Event()
        self._decoder = msgspec.json.Decoder()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1.0)
        self.client.max_inflight_messages_set(100)

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> Consumer:
        """Connect (bounded) and run paho's network thread; it reconnects by itself."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect(self.host, self.port, keepalive=10, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            raise TimeoutError(f"the consumer did not connect to {self.host}:{self.port} in {CONNECT_TIMEOUT_S} s")
        return self

    def stop(self) -> None:
        """Disconnect and end paho's thread."""
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait (bounded) until connected."""
        return self._connected.wait(timeout)

    # ---- paho callbacks (paho's thread) ---------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        """Subscribe on every connect: a restarted broker without persistence forgot the session."""
        if getattr(reason, "is_failure", False):
            return
        self.connects += 1
        client.subscribe(f"{self.base}/#", options=SubscribeOptions(qos=1, noLocal=True))
        self._connected.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        """Note the loss; paho reconnects on its own."""
        self.disconnects += 1
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: Any, message: Any) -> None:
        """Record one message: an event, a state, or a command answer."""
        topic: str = message.topic
        now = time.monotonic()
        self.last_message = now
        suffix = topic[len(self.base) + 1:]
        if suffix.startswith("cmd/"):
            return
        try:
            payload = self._decoder.decode(message.payload)
        except (msgspec.DecodeError, UnicodeDecodeError):
            with self.lock:
                self.bad_payloads += 1
            return
        if not isinstance(payload, dict):
            with self.lock:
                self.bad_payloads += 1
            return
        if suffix == "state":
            with self.lock:
                self.states.append((now, payload))
            return
        if suffix.startswith("cmd-res/"):
            request_id = payload.get("request_id")
            if isinstance(request_id, str):
                with self.lock:
                    self.answers.setdefault(request_id, []).append(Answer(now, payload))
            return
        self._on_event(payload, now)

    def _on_event(self, event: dict[str, Any], now: float) -> None:
        """Record an event's sequence and id."""
        try:
            seq = int(event["sequence"])
            event_id = str(event["id"])
        except (KeyError, TypeError, ValueError):
            with self.lock:
                self.bad_payloads += 1
            return
        if self.sabotage == "drop" and seq == self.sabotage_seq:
            return
        kind = str(event.get("type", ""))
        with self.lock:
            self.deliveries += 1
            known = self.ids.get(seq)
            if known is None:
                self.ids[seq] = event_id
                self.new_times.append(now)
                self.new_seqs.append(seq)
                if self.sabotage == "reuse" and seq == self.sabotage_seq:
                    self.reused[seq] = {event_id, "sabotage-" + event_id}
            elif known == event_id:
                self.duplicates += 1
            else:
                self.reused.setdefault(seq, {known}).add(event_id)
            other = self.seq_of_id.setdefault(event_id, seq)
            if other != seq:
                self.id_two_seqs.setdefault(event_id, {other}).add(seq)
            if kind == "storegw.synthetic.v1" and known is None:
                data = event.get("data")
                if isinstance(data, dict) and isinstance(data.get("n"), int):
                    self.synthetic[seq] = (int(event.get("gwboot", 0) or 0), int(data["n"]))
            elif "gap" in kind or "skip" in kind or "never" in kind:
                self.gap_events.append(event)

    # ---- snapshots (harness thread) -------------------------------------------------------
    def new_count(self) -> int:
        """Distinct sequence numbers received so far."""
        with self.lock:
            return len(self.ids)

    def received(self) -> set[int]:
        """Every distinct sequence number received."""
        with self.lock:
            return set(self.ids)

    def max_seq(self) -> int:
        """The highest sequence received (0 before any)."""
        with self.lock:
            return max(self.ids) if self.ids else 0

    def new_between(self, start: float, end: float, above: int = 0) -> int:
        """New sequences that arrived in start..end (monotonic), optionally only those above ``above``."""
        with self.lock:
            lo = bisect.bisect_left(self.new_times, start)
            hi = bisect.bisect_right(self.new_times, end)
            if above <= 0:
                return hi - lo
            return sum(1 for seq in itertools.islice(self.new_seqs, lo, hi) if seq > above)

    def arrival_times(self) -> array[float]:
        """Arrival times (monotonic, ascending) of every new sequence."""
        with self.lock:
            return array("d", self.new_times)

    def states_since(self, since: float) -> list[dict[str, Any]]:
        """State payloads received since ``since``."""
        with self.lock:
            return [payload for at, payload in self.states if at >= since]

    def answers_for(self, request_id: str) -> list[Answer]:
        """Answers received for one request."""
        with self.lock:
            return list(self.answers.get(request_id, []))

    # ---- commands ----------------------------------------------------------------------
    def command(self, name: str, payload: dict[str, Any]) -> bool:
        """Publish one command at QoS 1; False when the broker did not take it in time."""
        info = self.client.publish(f"{self.base}/cmd/{name}", msgspec.json.encode(payload), qos=1)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()
