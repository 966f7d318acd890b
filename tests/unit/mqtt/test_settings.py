"""Config-derived broker values: topics, connection settings, the state payloads; no paho needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gateway.config import Config, parse_config
from gateway.mqtt.settings import link_settings, parse_url
from gateway.mqtt.topics import answer_topic, base_topic, command_filter, event_topic, state_topic
from tests.support.paths import REPO_ROOT

CONFIG = """
[gateway]
store_id = "store-7"
gateway_id = "gw-2"
data_dir = "{data_dir}"

[mqtt]
url = "mqtts://broker.example:8884"
topic_prefix = "acme/v1/"
username = "gw"
password_file = "pw"
"""


def config_in(folder: Path) -> Config:
    """A config in ``folder`` with a TLS URL, a prefix ending in a slash and a relative password file."""
    (folder / "pw").write_text("s3cret\n")
    path = folder / "c.toml"
    path.write_text(CONFIG.format(data_dir=folder / "data"))
    return parse_config(path.read_text(), str(path))


def test_topics_hang_under_prefix_store_and_gateway(tmp_path: Path) -> None:
    """Every topic of a gateway is under `{topic_prefix}/{store_id}/{gateway_id}`, the prefix's slash dropped."""
    base = base_topic(config_in(tmp_path))
    assert base == "acme/v1/store-7/gw-2"
    assert event_topic(base, "footfall") == "acme/v1/store-7/gw-2/footfall"
    assert state_topic(base) == "acme/v1/store-7/gw-2/state"
    assert command_filter(base) == "acme/v1/store-7/gw-2/cmd/+"
    assert answer_topic(base, "replay") == "acme/v1/store-7/gw-2/cmd-res/replay"


def test_link_settings_resolve_the_url_the_secrets_and_the_will(tmp_path: Path) -> None:
    """Host, port and TLS from the URL; the password read beside the config; will and commands on the base."""
    settings = link_settings(config_in(tmp_path), str(tmp_path / "c.toml"), boot=4)
    assert (settings.host, settings.port, settings.tls) == ("broker.example", 8884, True)
    assert settings.client_id == "storegw-store-7-gw-2"
    assert (settings.username, settings.password) == ("gw", "s3cret")
    assert "s3cret" not in repr(settings)
    assert settings.will_topic == "acme/v1/store-7/gw-2/state"
    assert settings.subscriptions == ("acme/v1/store-7/gw-2/cmd/+",)
    will = json.loads(settings.will_payload)
    assert will["online"] is False and will["boot"] == 4 and will["reason"] == "connection lost"
    assert "time" not in will  # the broker sends the will later: a time would be wrong


def test_urls_default_their_port_by_scheme() -> None:
    """mqtt:// is 1883 in the clear, mqtts:// 8883 with TLS."""
    assert parse_url("mqtt://10.0.0.1") == ("10.0.0.1", 1883, False)
    assert parse_url("mqtts://broker") == ("broker", 8883, True)


def test_settings_and_topics_load_neither_paho_nor_the_daemon() -> None:
    """doctor, verify and demo read settings without loading the MQTT client or the daemon."""
    script = ("import sys, gateway.mqtt.settings, gateway.mqtt.topics, gateway.mqtt.state; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'paho' or m == 'gateway.app'))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
