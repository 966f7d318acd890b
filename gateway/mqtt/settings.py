"""The broker connection settings of a config: resolved paths, secrets read, topics and will filled in.

Free of paho, so the CLI verbs that only read settings (doctor, verify, demo) do not load the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.config import Config, read_secret, resolve_path
from gateway.mqtt.state import will_payload
from gateway.mqtt.topics import base_topic, command_filter, state_topic


@dataclass(frozen=True)
class Endpoint:
    """One broker of the failover list."""

    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        """host:port, as logs, status and the doctor show a broker."""
        return f"{self.host}:{self.port}"


@dataclass
class LinkSettings:
    """Everything needed to connect, resolved from the config (secrets already read)."""

    host: str
    port: int
    tls: bool
    client_id: str
    protocol: str = "5"
    keepalive_s: int = 30
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_insecure: bool = False
    max_inflight: int = 20
    connect_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 60.0
    puback_timeout_s: float = 30.0
    will_topic: str = ""
    will_payload: bytes = b""
    subscriptions: tuple[str, ...] = ()
    failover: tuple[Endpoint, ...] = ()
    """The brokers after the first (host, port, tls), tried in order when the one before fails."""
    startup_delay_max_s: float = 0.0
    """Wait uniformly in [0, this] before the first connect and after a lost connection."""

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every broker, in the order they are tried: the first, then the failover list."""
        return (Endpoint(self.host, self.port, self.tls), *self.failover)


def parse_url(url: str) -> tuple[str, int, bool]:
    """Host, port and TLS flag of an mqtt:// or mqtts:// URL."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls


def link_settings(config: Config, config_path: str, boot: int) -> LinkSettings:
    """Resolve the `[mqtt]` table into connection settings, reading secret files."""
    m = config.mqtt
    first, *rest = (Endpoint(*parse_url(url)) for url in m.broker_urls())
    topic = base_topic(config)
    return LinkSettings(
        host=first.host, port=first.port, tls=first.tls, failover=tuple(rest),
        startup_delay_max_s=m.startup_delay_max_s,
        client_id=m.client_id or f"storegw-{config.gateway.store_id}-{config.gateway.gateway_id}",
        protocol=m.protocol, keepalive_s=m.keepalive_s,
        ca_file=resolve_path(config_path, m.ca_file) or None,
        cert_file=resolve_path(config_path, m.cert_file) or None,
        key_file=resolve_path(config_path, m.key_file) or None,
        key_password=read_secret(config_path, m.key_password_file) if m.key_password_file else None,
        username=m.username or None,
        password=read_secret(config_path, m.password_file) if m.password_file else None,
        tls_insecure=m.tls_insecure, max_inflight=m.max_inflight, connect_timeout_s=m.connect_timeout_s,
        reconnect_min_s=m.reconnect_min_s, reconnect_max_s=m.reconnect_max_s,
        puback_timeout_s=m.puback_timeout_s,
        will_topic=state_topic(topic),
        will_payload=will_payload(boot),
        subscriptions=(command_filter(topic),))
