"""A broker that refuses the command subscription (NATS while JetStream elects a leader after a node loss,
or a permission): the gateway says so in its log and status and asks again, so commands arrive once the
broker allows them. (mosquitto 2.0 grants every SUBACK and filters later, so NATS is the real peer here.)"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from gateway.diag.client import request_status
from tests.support.mqtt_user import MqttUser
from tests.support.nats import NatsServer, nats_binary
from tests.support.peers import Daemon, wait_for, write_config

BASE = "storegw/v1/store-t/gw-t"
SYNTHETIC = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 5\n'


def authorization(gateway_reads_commands: bool) -> str:
    """The users: the gateway (its command subject allowed or not) and the backend."""
    commands = '"storegw.v1.store-t.gw-t.cmd.>", ' if gateway_reads_commands else ""
    return f"""authorization {{
  users = [
    {{user: "gw", password: "gw-pw", permissions: {{
      publish: {{allow: ["storegw.v1.store-t.gw-t.>"]}}
      subscribe: {{allow: [{commands}"$MQTT.sub.>"]}}
    }}}}
    {{user: "backend", password: "be-pw", permissions: {{
      publish: {{allow: ["storegw.v1.*.*.cmd.>"]}}
      subscribe: {{allow: ["storegw.v1.>", "storegw.v1", "$MQTT.sub.>"]}}
    }}}}
  ]
}}"""


def test_a_refused_command_subscription_is_reported_and_asked_again(tmp_path: Path) -> None:
    """Refused at first (commands cannot arrive, and status says why); allowed later, commands are answered."""
    if nats_binary() is None:
        pytest.skip("nats-server is not installed")
    server = NatsServer(extra_config=authorization(False), ready_credentials=("backend", "be-pw")).start()
    (tmp_path / "pw").write_text("gw-pw\n")
    config = write_config(tmp_path / "c.toml", port=server.mqtt_port, data_dir=tmp_path / "data", devices=SYNTHETIC,
                          mqtt_extra=f'protocol = "3.1.1"\nusername = "gw"\npassword_file = "{tmp_path / "pw"}"')
    backend = MqttUser(server.mqtt_port, "backend", "be-pw", protocol=paho.MQTTv311)
    daemon = Daemon(config).start()
    try:
        assert backend.subscribe(f"{BASE}/cmd-res/+") < 128
        wait_for(lambda: "refused the subscription" in daemon.log(), timeout=30, what="the refusal in the log")
        status = request_status(str(tmp_path / "data" / "storegw.sock"))
        assert status["mqtt"]["connected"] and "refused the subscription" in status["mqtt"]["last_error"]
        server.extra_config = authorization(True)
        Path(server.workdir, "nats.conf").write_text(server.config_text())
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)  # nats-server reloads its config
        wait_for(lambda: "accepted the command subscription" in daemon.log(), timeout=60,
                 what="the subscription accepted once the broker allows it")

        def answered() -> bool:
            """Ask for a rebirth; True once an answer has come."""
            if not backend.received(f"{BASE}/cmd-res/rebirth"):
                backend.publish(f"{BASE}/cmd/rebirth", b'{"request_id": "after-reload"}')
            return bool(backend.received(f"{BASE}/cmd-res/rebirth"))

        wait_for(answered, timeout=30, what="the rebirth answered")
        assert json.loads(backend.received(f"{BASE}/cmd-res/rebirth")[0])["request_id"] == "after-reload"
        status = request_status(str(tmp_path / "data" / "storegw.sock"))
        assert "refused the subscription" not in (status["mqtt"]["last_error"] or "")
    finally:
        daemon.terminate()
        backend.close()
        server.remove()
