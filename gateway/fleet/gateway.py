"""One simulated gateway: the daemon's publisher and command handler over a RAM outbox and a loop-driven link.

What it publishes is what `storegw run` publishes: the retained birth on `.../state` at every connect (and on
`cmd/rebirth`), the will (offline state) left with the broker, events in the CloudEvents envelope with
contiguous sequence numbers and the run's gwboot, a `health` event every ``health_s``, and the answers of
`cmd/replay`, `cmd/rebirth` and `cmd/config` from `gateway.mqtt.commands.CommandHandler`, replays read
from this gateway's own history.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway import __version__
from gateway.buildinfo import commit
from gateway.events.envelope import rfc3339, source_of
from gateway.events.types.health import DeviceHealth, HealthData, MqttHealth, OutboxHealth
from gateway.fleet.figures import FleetFigures
from gateway.fleet.link import LoopLink
from gateway.fleet.outbox import MemoryOutbox
from gateway.mqtt.commands import CommandError, CommandHandler, CommandPorts
from gateway.mqtt.publisher import Publisher
from gateway.mqtt.settings import LinkSettings
from gateway.mqtt.state import birth_payload, offline_payload, will_payload
from gateway.mqtt.topics import command_filter, event_topic, gateway_topic, state_topic

DEVICE_ID = "sim"
EVENT_TYPES = ("synthetic", "footfall")


@dataclass(frozen=True)
class FleetOptions:
    """How every gateway of the fleet behaves."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    protocol: str = "5"
    topic_prefix: str = "storegw/v1"
    store_prefix: str = "sim-store-"
    gateway_id: str = "gw1"
    client_prefix: str = "storegw-sim-"
    rate: float = 1.0
    """Events per second of each gateway."""
    event_type: str = "synthetic"
    health_s: float = 60.0
    max_inflight: int = 20
    keep: int = 10_000
    """Events each gateway holds for replays."""
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    keepalive_s: int = 30


def store_id_of(options: FleetOptions, index: int) -> str:
    """The store id of gateway number ``index`` (from 0): the prefix and a 4-digit number from 1."""
    return f"{options.store_prefix}{index + 1:04d}"


class SimGateway:
    """One simulated gateway of a fleet run."""

    def __init__(self, index: int, options: FleetOptions, pool: concurrent.futures.Executor, figures: FleetFigures,
                 *, boot: int = 1, first_seq: int = 1) -> None:
        """Gateway number ``index`` (store ``{store_prefix}{index+1:04d}``), not started yet."""
        self.index = index
        self.options = options
        self.figures = figures
        self.store_id = store_id_of(options, index)
        self.base = gateway_topic(options.topic_prefix, self.store_id, options.gateway_id)
        self.source = source_of(self.store_id, options.gateway_id)
        self.outbox = MemoryOutbox(self.source, boot, keep=options.keep, first_seq=first_seq)
        self.publisher = Publisher(self.outbox, self._publish_event, options.max_inflight,  # type: ignore[arg-type]
                                   publish_answer=self._publish_answer)
        self.commands = CommandHandler(CommandPorts(
            outbox=self.outbox, replay=self.publisher.replay, answer=self._answer,
            answers_waiting=lambda: len(self.publisher.answers), topic=lambda: self.base,
            rebirth=self.publish_birth, running_config=self._running_config))
        settings = LinkSettings(  # the daemon's settings type; the simulator uses its plain-TLS subset
            host=options.host, port=options.port, tls=options.tls, username=options.username,
            password=options.password, client_id=f"{options.client_prefix}{index + 1:04d}", protocol=options.protocol,
            keepalive_s=options.keepalive_s, max_inflight=options.max_inflight,
            reconnect_min_s=options.reconnect_min_s, reconnect_max_s=options.reconnect_max_s,
            will_topic=state_topic(self.base), will_payload=will_payload(boot),
            subscriptions=(command_filter(self.base),))
        self.link = LoopLink(settings, pool, on_up=self._on_up, on_down=self._on_down, on_ack=self.publisher.on_ack,
                             on_message=self.commands.on_message, oldest_inflight=self.publisher.oldest_inflight)
        self.started = time.monotonic()
        self.produced = 0
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self, rng: random.Random) -> None:
        """Connect, publish, and produce events (at a random phase, so a fleet does not tick in step)."""
        self._tasks = [asyncio.create_task(self.link.run(), name=f"link-{self.index}"),
                       asyncio.create_task(self.publisher.run(), name=f"publisher-{self.index}"),
                       asyncio.create_task(self._produce(rng.random()), name=f"events-{self.index}"),
                       asyncio.create_task(self._health(rng.random()), name=f"health-{self.index}")]

    def stop_producing(self) -> None:
        """No more events from this gateway (the fleet winds down)."""
        for task in self._tasks[2:]:
            task.cancel()

    async def stop(self, reason: str) -> bool:
        """Publish the offline state saying ``reason`` and disconnect; True if the broker acked it."""
        self.stop_producing()
        delivered = await self.link.stop(offline_payload(self.outbox.boot, reason))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.publisher.close()
        return delivered

    # ---- what it publishes -------------------------------------------------------------------
    async def _produce(self, phase: float) -> None:
        """``rate`` events a second, on a schedule that does not drift."""
        interval = 1.0 / self.options.rate
        start = time.monotonic() + phase * interval
        while True:
            await asyncio.sleep(max(0.0, start + self.produced * interval - time.monotonic()))
            self.produced += 1
            now = time.time()
            self.outbox.submit(self.options.event_type, DEVICE_ID, now, self._data(now, interval),
                               event_topic(self.base, self.options.event_type))

    def _data(self, now: float, interval: float) -> dict[str, Any]:
        """The payload of the next event of the chosen type."""
        if self.options.event_type == "footfall":
            span = max(interval, 0.001)
            return {"line": "door1", "interval_start": rfc3339(now - span), "interval_s": round(span, 3),
                    "in": self.produced % 3, "out": (self.produced + 1) % 3}
        return {"n": self.produced}

    async def _health(self, phase: float) -> None:
        """A health event every health_s, as the daemon's."""
        await asyncio.sleep(phase * self.options.health_s)
        while True:
            data = msgspec.to_builtins(self.health())
            self.outbox.submit("health", self.options.gateway_id, time.time(), data, event_topic(self.base, "health"))
            await asyncio.sleep(self.options.health_s)

    def health(self) -> HealthData:
        """The health event's data: one synthetic device, the RAM outbox and the link."""
        stats = self.link.stats
        last = stats.last_puback_monotonic
        device = DeviceHealth(kind="synthetic", state="connected", readings=self.produced, last_reading_age_s=None,
                              reconnects=0, errors={}, last_error=None, restarts=0)
        outbox = OutboxHealth(last_seq=self.outbox.last_seq, pending=self.outbox.pending, oldest_pending_age_s=None,
                              bytes=0, max_bytes=0, dropped={"ram:any": self.outbox.dropped} if self.outbox.dropped
                              else {}, write_errors=0)
        mqtt = MqttHealth(connected=self.link.connected,
                          last_puback_age_s=None if last is None else round(time.monotonic() - last, 3),
                          reconnects=stats.reconnects, inflight=len(self.publisher.inflight),
                          last_error=stats.last_error)
        return HealthData(version=__version__, commit=commit(), uptime_s=round(time.monotonic() - self.started, 1),
                          devices={DEVICE_ID: device}, outbox=outbox, mqtt=mqtt, disk_free_bytes=-1)

    def publish_birth(self) -> int:
        """Retained `{online: true, boot}` on `.../state`; returns the boot announced."""
        self.link.publish(state_topic(self.base), birth_payload(self.outbox.boot), retain=True)
        return self.outbox.boot

    # ---- the wiring between link, publisher and commands ---------------------------------------
    def _publish_event(self, topic: str, payload: bytes) -> int | None:
        """Hand one row to the link."""
        return self.link.publish_event(topic, payload)

    def _publish_answer(self, topic: str, payload: bytes, properties: Any) -> int | None:
        """Hand one command answer to the link."""
        return self.link.publish(topic, payload, properties=properties)

    def _answer(self, topic: str, payload: bytes, properties: Any, busy: bool) -> bool:
        """Queue a command answer in the window (the link always exists, connected or not)."""
        self.publisher.answer(topic, payload, properties, busy=busy)
        return True

    def _running_config(self) -> Any:
        """A simulated gateway runs from no config file: cmd/config says so."""
        raise CommandError("a simulated gateway (storegw fleet simulate) has no config file")

    def _on_up(self) -> None:
        """Connected: birth first, then the publisher resends everything unacked."""
        self.publish_birth()
        self.publisher.on_up()
        self.figures.up(self.index)

    def _on_down(self, why: str) -> None:
        """Connection lost: what was in flight is read again on the next one."""
        self.publisher.on_down()
        self.figures.down(self.index)
