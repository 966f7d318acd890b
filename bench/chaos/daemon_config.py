"""The daemon's config as the chaos suite writes it: the TOML, one valid change, and invalid configs."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

STORE = "chaos"
GATEWAY = "gw-1"
PREFIX = "storegw/v1"
BASE_TOPIC = f"{PREFIX}/{STORE}/{GATEWAY}"


@dataclass(frozen=True)
class GatewayConfig:
    """The settings the suite varies; ``text()`` renders the TOML."""

    url: str
    data_dir: str
    rate: float = 300.0
    payload_bytes: int = 64
    health_interval_s: float = 5.0
    keepalive_s: int = 5
    puback_timeout_s: float = 3.0
    synthetic: bool = True
    extra_mqtt: str = ""

    def text(self) -> str:
        """The config file's TOML."""
        return f"""# written by bench/chaos
[gateway]
store_id = "{STORE}"
gateway_id = "{GATEWAY}"
data_dir = "{self.data_dir}"
health_interval_s = {self.health_interval_s}
log_level = "info"

[mqtt]
url = "{self.url}"
topic_prefix = "{PREFIX}"
keepalive_s = {self.keepalive_s}
connect_timeout_s = 3
reconnect_min_s = 0.2
reconnect_max_s = 2.0
puback_timeout_s = {self.puback_timeout_s}
startup_delay_max_s = 0
{self.extra_mqtt}
[outbox]
retain_acked_s = 864000

[[devices]]
id = "load"
kind = "synthetic"
enabled = {"true" if self.synthetic else "false"}
rate = {self.rate}
payload_bytes = {self.payload_bytes}
"""


def valid_change(config: GatewayConfig, base_rate: float, rng: random.Random) -> tuple[GatewayConfig, str]:
    """A valid config that differs in one way (some restart the device, one restarts the broker link)."""
    kind = rng.choice(["rate", "payload", "health", "keepalive"])
    if kind == "rate":
        rate = base_rate if config.rate != base_rate else round(base_rate * rng.choice([0.8, 0.9, 1.1]), 1)
        return replace(config, rate=rate), f"rate {config.rate:g} -> {rate:g}/s"
    if kind == "payload":
        size = 64 if config.payload_bytes != 64 else 160
        return replace(config, payload_bytes=size), f"payload_bytes {config.payload_bytes} -> {size}"
    if kind == "health":
        interval = 5.0 if config.health_interval_s != 5.0 else 7.0
        return replace(config, health_interval_s=interval), (f"health_interval_s {config.health_interval_s:g} "
                                                             f"-> {interval:g}")
    keepalive = 5 if config.keepalive_s != 5 else 6
    what = f"mqtt keepalive_s {config.keepalive_s} -> {keepalive} (link restart)"
    return replace(config, keepalive_s=keepalive), what


def invalid_config(kind: str, config: GatewayConfig, workdir: Path) -> bytes:
    """The bytes of an invalid config of one kind (the daemon must refuse it and keep running)."""
    text = config.text()
    if kind == "toml-syntax":
        return (text + "\n[gateway\nbroken = \n").encode()
    if kind == "unknown-key":
        return text.replace("[gateway]\n", '[gateway]\ncolour = "red"\n', 1).encode()
    if kind == "bad-value":
        return re.sub(r"(?m)^rate = .*$", "rate = -5", text).encode()
    if kind == "deep-nesting":
        return ("deep = " + "[" * 5000 + "]" * 5000 + "\n" + text).encode()
    if kind == "not-utf8":
        return b"\xff\xfe" + text.encode()
    if kind == "empty":
        return b""
    secret = workdir / "secrets"
    secret.mkdir(exist_ok=True)
    if kind == "password-not-utf8":
        path = secret / "password-not-utf8"
        path.write_bytes(b"\xff\xfe")
    else:  # password-is-a-directory
        path = secret / "password-dir"
        path.mkdir(exist_ok=True)
    extra = f'username = "chaos"\npassword_file = "{path}"\n'
    return replace(config, extra_mqtt=config.extra_mqtt + extra).text().encode()


INVALID_KINDS = ["toml-syntax", "unknown-key", "bad-value", "deep-nesting", "not-utf8", "empty",
                 "password-not-utf8", "password-is-a-directory"]
