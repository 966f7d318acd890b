"""The typed configuration; key names are a contract with store IT (see DESIGN.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.devices import AnyDeviceConfig

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
BrokerUrl = Annotated[str, msgspec.Meta(pattern=r"^mqtts?://[^/]+$",
                                        description="mqtt://host[:port] or mqtts://host[:port]")]


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every config table: unknown keys are errors, not silently ignored."""


class GatewaySection(Section):
    """Who this gateway is and where it keeps its state."""

    store_id: Name
    gateway_id: Name
    data_dir: str = "/var/lib/storegw"
    health_interval_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class MqttSection(Section):
    """The broker link."""

    url: Annotated[str, msgspec.Meta(pattern=r"^(mqtts?://[^/]+)?$",
                                     description="mqtt://host[:port] or mqtts://host[:port]; "
                                     "set this or urls, not both")] = ""
    urls: Annotated[list[BrokerUrl], msgspec.Meta(max_length=16, description="failover list, tried in order: "
                    "the first that answers is used, the next when it fails; set this or url, not both")] = (
        msgspec.field(default_factory=list))
    startup_delay_max_s: Annotated[float, msgspec.Meta(ge=0, le=3600, description="wait a random time in "
                                   "[0, this] before the first connect and after a lost connection, so a "
                                   "fleet does not reconnect in lock-step; 0 = never wait")] = 5.0
    topic_prefix: str = "storegw/v1"
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str = ""
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    key_password_file: str = ""
    username: str = ""
    password_file: str = ""
    tls_insecure: Annotated[bool, msgspec.Meta(description="skip hostname checks; never in production")] = False
    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    connect_timeout_s: Seconds = 10.0
    reconnect_min_s: Seconds = 0.5
    reconnect_max_s: Seconds = 60.0
    puback_timeout_s: Annotated[float, msgspec.Meta(ge=1, description="oldest unacked publish older "
                                                    "than this = link is stuck; reconnect")] = 30.0
    replay_share: Annotated[float, msgspec.Meta(gt=0, le=1, description="most of the send window "
                                                "(max_inflight) replayed events may take while a cmd/replay "
                                                "runs; the rest stays for live events")] = 0.5

    def broker_urls(self) -> list[str]:
        """The brokers to try, in order: ``urls``, or the one ``url``."""
        return list(self.urls) if self.urls else [self.url]


DropKind = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]*$")]


class OutboxSection(Section):
    """The durable outbox and its disk quota."""

    max_bytes: Annotated[int, msgspec.Meta(ge=100_000)] = 1_000_000_000
    retain_acked_s: Annotated[float, msgspec.Meta(ge=0, description="keep acked rows for cmd/replay")] = 7 * 86400
    max_pending_age_s: Annotated[float, msgspec.Meta(ge=0, description="0 = keep unacked rows until "
                                                     "the quota needs room")] = 0
    drop_order: Annotated[list[DropKind], msgspec.Meta(description="at the quota, unacked events of "
                          "these types go first (oldest first), then the oldest of any type")] = msgspec.field(
        default_factory=lambda: ["synthetic", "health"])
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000
    ram_queue_max: Annotated[int, msgspec.Meta(ge=100, le=2_000_000, description="events kept in RAM while "
                             "the disk cannot take them; beyond, drop_order decides what goes (counted as "
                             "ram:TYPE)")] = 100_000
    stall_s: Annotated[float, msgspec.Meta(ge=30, le=86_400, description="nothing committed for this long while "
                       "events wait, and not because the disk is full: the writer is stuck, so the systemd "
                       "watchdog is withheld and systemd restarts storegw")] = 120.0


class DiagSection(Section):
    """The local status socket."""

    socket: Annotated[str, msgspec.Meta(description="path; default {data_dir}/storegw.sock")] = ""
    mode: Annotated[int, msgspec.Meta(ge=0, le=0o777)] = 0o660


class RemoteSection(Section):
    """Config changes from the backend (`cmd/config-apply`): on or off, and how a trial is judged."""

    config_apply: Annotated[bool, msgspec.Meta(description="accept cmd/config-apply; false answers ok=false "
                                               "and only the local file configures the gateway")] = True
    commit_after_s: Annotated[float, msgspec.Meta(ge=1, le=3600, description="a remote config is a trial "
                              "until the broker link is up and every device healthy before is healthy again; "
                              "not so within this many seconds = roll back to the last committed config")] = 120.0
    keep_versions: Annotated[int, msgspec.Meta(ge=1, le=100, description="applied configs kept under "
                             "{data_dir}/config/ (the committed one is always kept)")] = 5


class Config(Section):
    """A whole storegw configuration file."""

    gateway: GatewaySection
    mqtt: MqttSection
    outbox: OutboxSection = msgspec.field(default_factory=OutboxSection)
    diag: DiagSection = msgspec.field(default_factory=DiagSection)
    remote: RemoteSection = msgspec.field(default_factory=RemoteSection)
    devices: list[AnyDeviceConfig] = msgspec.field(default_factory=list)
