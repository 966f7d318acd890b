"""Real MQTT subscribers and the real daemon as a subprocess, for integration tests."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
SCHEMAS = ROOT / "docs" / "schemas"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; raise with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Subscriber:
    """A paho subscriber collecting every message on a topic filter."""

    def __init__(self, port: int, topic: str = "#", tls: dict[str, Any] | None = None,
                 protocol: int = paho.MQTTv5) -> None:
        """Subscribe to ``topic`` on the broker at ``port`` (``protocol=paho.MQTTv311`` for nats-server)."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{os.getpid()}-{id(self)}",
                                  protocol=protocol)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)  # back quickly after a broker restart
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        self.port = port

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Collect (runs on paho's thread)."""
        with self.lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def events(self) -> list[dict[str, Any]]:
        """Every event payload received (not state or cmd-res)."""
        with self.lock:
            items = list(self.messages)
        return [json.loads(p) for t, p, _ in items if not t.endswith(("/state",)) and "/cmd" not in t]

    def on_topic(self, suffix: str) -> list[bytes]:
        """Payloads received on topics ending with ``suffix``."""
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def sequences(self) -> set[int]:
        """Every sequence number received."""
        return {int(e["sequence"]) for e in self.events()}

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish (for commands)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


_validators: dict[str, jsonschema.Draft202012Validator] = {}


def validate_event(event: dict[str, Any]) -> None:
    """Validate one published event against its committed JSON Schema."""
    name = event["type"].removeprefix("storegw.").removesuffix(".v1")
    if name not in _validators:
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        _validators[name] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    _validators[name].validate(event)


def write_config(path: pathlib.Path, *, port: int, data_dir: pathlib.Path, devices: str = "",
                 mqtt_extra: str = "", outbox_extra: str = "", health_interval_s: float = 60,
                 url: str | None = None, startup_delay_max_s: float = 0,
                 urls: list[str] | None = None) -> pathlib.Path:
    """Write a daemon config for tests (no start-up spread unless asked: one gateway, not a fleet).

    ``urls``: a failover list, written instead of ``url``.
    """
    broker = (f"urls = {json.dumps(urls)}" if urls is not None
              else f'url = "{url or f"mqtt://127.0.0.1:{port}"}"')
    path.write_text(f"""
[gateway]
store_id = "store-t"
gateway_id = "gw-t"
data_dir = "{data_dir}"
health_interval_s = {health_interval_s}
log_level = "info"

[mqtt]
{broker}
reconnect_min_s = 0.2
reconnect_max_s = 1.0
connect_timeout_s = 3
startup_delay_max_s = {startup_delay_max_s}
{mqtt_extra}

[outbox]
{outbox_extra}

{devices}
""")
    return path


@dataclass
class Daemon:
    """`storegw run` as a real subprocess."""

    config: pathlib.Path
    process: subprocess.Popen[bytes] | None = None
    log_path: pathlib.Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.config.with_suffix(".log")

    def start(self) -> Daemon:
        """Start the daemon."""
        self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "run", "--config", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"),  # noqa: SIM115
                                        cwd=ROOT)
        return self

    def log(self) -> str:
        """Everything the daemon logged."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut would."""
        assert self.process
        self.process.kill()
        self.process.wait(10)

    def signal(self, sig: int) -> None:
        """Send a signal."""
        assert self.process
        self.process.send_signal(sig)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None
