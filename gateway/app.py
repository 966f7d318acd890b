"""The daemon: wires the config to the outbox, the broker link, the devices and diagnostics."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from typing import Any

from gateway import __version__
from gateway.buildinfo import commit
from gateway.config import Config, ConfigError, load_config, read_secret, resolve_path
from gateway.events.types.health import HealthData, MqttHealth, OutboxHealth
from gateway.mqtt.commands import CommandHandler
from gateway.mqtt.link import LinkSettings, MqttLink, parse_url, state_payload
from gateway.mqtt.publisher import Publisher
from gateway.outbox import Outbox, QuotaPolicy
from gateway.pipelines import Event
from gateway.sdnotify import Notifier
from gateway.supervisor import Supervisor

log = logging.getLogger("storegw")
STOP_WAIT_S = 10.0
"""How long shutdown waits for a cancelled task before going on without it."""
STOP_BUDGET_S = 20.0
"""Shutdown's budget: with the link's own 5 s and the socket's 2 s it stays inside systemd's
TimeoutStopSec=30, so the final commit is never SIGKILLed."""


async def settle(tasks: list[asyncio.Task[Any] | None], what: str, timeout: float = STOP_WAIT_S) -> None:
    """Wait for cancelled tasks to end, never forever: one that does not is logged and left behind."""
    live = [task for task in tasks if task is not None]
    if not live:
        return
    done, pending = await asyncio.wait(live, timeout=timeout)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s ended with %r", what, task.get_name(), task.exception())
    for task in pending:
        log.error("%s: task %s did not stop within %g s; going on without it", what, task.get_name(), timeout)


async def stop_writer(outbox: Outbox, writer: asyncio.Task[Any], timeout: float) -> None:
    """Stop the outbox writer, then commit what is left in RAM and close; never two writers at once."""
    writer.cancel()
    await settle([writer], "outbox", timeout)
    if not writer.done():
        # a commit still running (a very slow card): writing beside it would reuse its sequence
        # numbers, so leave it; SQLite rolls back what it has not finished, like a power cut
        log.error("outbox: still committing at exit; %d events in RAM are not saved", outbox.queued)
        return
    await outbox.close()


def base_topic(config: Config) -> str:
    """`{topic_prefix}/{store_id}/{gateway_id}`."""
    return f"{config.mqtt.topic_prefix.rstrip('/')}/{config.gateway.store_id}/{config.gateway.gateway_id}"


def outbox_path(config: Config) -> str:
    """Where the outbox database of a config lives."""
    return os.path.join(config.gateway.data_dir, "outbox.db")


def socket_path(config: Config) -> str:
    """Where the local status socket of a config lives."""
    return config.diag.socket or os.path.join(config.gateway.data_dir, "storegw.sock")


def quota_policy(config: Config) -> QuotaPolicy:
    """The outbox policy of a config."""
    o = config.outbox
    return QuotaPolicy(max_bytes=o.max_bytes, retain_acked_s=o.retain_acked_s,
                       max_pending_age_s=o.max_pending_age_s, drop_order=tuple(o.drop_order))


def link_settings(config: Config, config_path: str, boot: int) -> LinkSettings:
    """Resolve the `[mqtt]` table into connection settings, reading secret files."""
    m = config.mqtt
    host, port, tls = parse_url(m.url)
    topic = base_topic(config)
    return LinkSettings(
        host=host, port=port, tls=tls,
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
        will_topic=f"{topic}/state",
        will_payload=state_payload(False, boot, __version__, commit(), "connection lost", stamped=False),
        subscriptions=(f"{topic}/cmd/+",))


class Gateway:
    """One running storegw daemon."""

    def __init__(self, config: Config, config_path: str) -> None:
        self.config = config
        self.config_path = config_path
        self.started = time.monotonic()
        self.topic = base_topic(config)
        self.outbox = Outbox(outbox_path(config),
                             source=f"/stores/{config.gateway.store_id}/gateways/{config.gateway.gateway_id}",
                             quota=quota_policy(config), batch_max=config.outbox.batch_max,
                             ram_queue_max=config.outbox.ram_queue_max)
        self.supervisor = Supervisor(self.emit_event, config.gateway.data_dir, config_path)
        self.notifier = Notifier()
        self.publisher: Publisher | None = None
        self.link: MqttLink | None = None
        self.commands: CommandHandler | None = None
        self.diag: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._link_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()

    # ---- events in ---------------------------------------------------------------------
    def emit_event(self, subject: str, event: Event) -> None:
        """Commit one event of ``subject`` (a device or the gateway) to the outbox."""
        self.outbox.submit(event.type, subject, event.time, event.data, f"{self.topic}/{event.type}")

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Open the outbox and start every part; returns once all are running."""
        os.makedirs(self.config.gateway.data_dir, exist_ok=True)
        await self.outbox.open()
        log.info("storegw %s: store %s gateway %s, boot %d, outbox at seq %d with %d pending",
                 __version__, self.config.gateway.store_id, self.config.gateway.gateway_id,
                 self.outbox.boot, self.outbox.last_seq, self.outbox.pending)
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        self._start_link()
        from gateway.diag.server import DiagServer

        self.diag = DiagServer(self, socket_path(self.config), self.config.diag.mode)
        await self.diag.start()
        for device in self.config.devices:
            if device.enabled:
                self.supervisor.start(device)
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if self.notifier.watchdog_interval:
            self._tasks.append(asyncio.create_task(self._watchdog_loop(), name="watchdog"))
        self.notifier.notify("READY=1", f"STATUS=running; outbox seq {self.outbox.last_seq}")

    def _start_link(self) -> None:
        """Create the publisher and the broker link for the current config."""
        settings = link_settings(self.config, self.config_path, self.outbox.boot)
        publisher = Publisher(self.outbox, lambda topic, payload: link.publish_event(topic, payload),
                              self.config.mqtt.max_inflight)
        self.publisher = publisher
        self.commands = CommandHandler(self)
        link = MqttLink(settings, on_up=self._on_link_up, on_down=lambda why: publisher.on_down(),
                        on_ack=publisher.on_ack, on_message=self.commands.on_message,
                        oldest_inflight=publisher.oldest_inflight)
        self.link = link
        self._link_task = asyncio.create_task(link.run(), name="mqtt")
        self._publisher_task = asyncio.create_task(publisher.run(), name="publisher")

    def _on_link_up(self) -> None:
        """Birth, then let the publisher resend everything unacked."""
        assert self.link and self.publisher
        self.publish_birth()
        self.publisher.on_up()

    def publish_birth(self) -> None:
        """Retained `{online: true, boot}` on `.../state`."""
        assert self.link
        birth = state_payload(True, self.outbox.boot, __version__, commit())
        self.link.publish(f"{self.topic}/state", birth, retain=True)

    async def _stop_link(self, reason: str, wait_s: float = STOP_WAIT_S) -> None:
        """Publish the offline state and close the broker link."""
        if self.link is None:
            return
        try:
            await self.link.stop(state_payload(False, self.outbox.boot, __version__, commit(), reason))
        except Exception:
            log.exception("mqtt: error while stopping")
        for task in (self._link_task, self._publisher_task):
            if task:
                task.cancel()
        await settle([self._link_task, self._publisher_task], "mqtt", wait_s)
        if self.publisher is not None:
            self.publisher.close()
        self.link = None

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the config."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload.set)
        await self.start()
        while not self._stop.is_set():
            reload_wait = asyncio.create_task(self._reload.wait())
            stop_wait = asyncio.create_task(self._stop.wait())
            await asyncio.wait({reload_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            reload_wait.cancel()
            stop_wait.cancel()
            if self._reload.is_set() and not self._stop.is_set():
                self._reload.clear()
                await self.reload()
        await self.shutdown()
        return 0

    def request_stop(self) -> None:
        """Ask the daemon to stop (as SIGTERM does)."""
        self._stop.set()

    async def shutdown(self, drain_s: float = 3.0, budget_s: float = STOP_BUDGET_S) -> None:
        """Stop devices, commit what is in RAM, try briefly to deliver, publish offline, close."""
        end = time.monotonic() + budget_s

        def left(reserve: float) -> float:
            """Seconds this step may take, keeping ``reserve`` for the steps after it."""
            return max(1.0, end - time.monotonic() - reserve)

        self.notifier.notify("STOPPING=1")
        # the outbox writer (started first) keeps going until the end
        writer, others = (self._tasks[0], self._tasks[1:]) if self._tasks else (None, [])
        for task in others:
            task.cancel()
        await self.supervisor.stop_all()
        await self.outbox.flush(timeout=left(12.0))
        deadline = time.monotonic() + min(drain_s, left(10.0))
        while self.outbox.pending and self.link and self.link.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._stop_link("shutdown", min(STOP_WAIT_S, left(6.0)))
        if self.diag:
            await self.diag.stop()
        await settle(others, "shutdown", min(STOP_WAIT_S, left(3.0)))
        if writer is not None:
            await stop_writer(self.outbox, writer, left(0.0))
        else:
            await self.outbox.close()
        log.info("storegw stopped; outbox at seq %d, %d pending", self.outbox.last_seq, self.outbox.pending)

    async def reload(self) -> None:
        """Re-read the config file; keep the outbox, restart only what changed."""
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n%s", exc)
            return
        if new.gateway.data_dir != self.config.gateway.data_dir:
            log.error("reload: gateway.data_dir changed; that needs a restart (kept %s)", self.config.gateway.data_dir)
            return
        old = self.config
        try:
            # Secrets are compared too, so a changed password file takes effect on SIGHUP.
            wanted = link_settings(new, self.config_path, self.outbox.boot)
            link_changed = self.link is None or wanted != self.link.settings
        except OSError as exc:
            log.error("reload refused, keeping the running config: cannot read a secret file (%s)", exc.strerror)
            return
        self.config = new
        if link_changed or new.gateway != old.gateway:
            await self._stop_link("reconfiguring")
            self.topic = base_topic(new)
            self.outbox.source = f"/stores/{new.gateway.store_id}/gateways/{new.gateway.gateway_id}"
            self._start_link()
        changes = await self.supervisor.apply(new.devices)
        log.info("config reloaded from %s: %s", self.config_path, ", ".join(changes) or "no device changes")

    # ---- health ------------------------------------------------------------------------
    async def health(self) -> HealthData:
        """The health event's data, also served on the status socket."""
        stats = await self.outbox.stats()
        link = self.link
        last_puback = link.stats.last_puback_monotonic if link else None
        try:
            disk_free = shutil.disk_usage(self.config.gateway.data_dir).free
        except OSError:
            disk_free = -1
        return HealthData(
            version=__version__, commit=commit(), uptime_s=round(time.monotonic() - self.started, 1),
            devices=self.supervisor.health(),
            outbox=OutboxHealth(last_seq=stats["last_seq"], pending=stats["pending"],
                                oldest_pending_age_s=stats["oldest_pending_age_s"], bytes=stats["bytes"],
                                max_bytes=stats["max_bytes"], dropped=stats["dropped"],
                                write_errors=stats["write_errors"]),
            mqtt=MqttHealth(connected=bool(link and link.connected),
                            last_puback_age_s=None if last_puback is None else round(time.monotonic() - last_puback, 3),
                            reconnects=link.stats.reconnects if link else 0,
                            inflight=len(self.publisher.inflight) if self.publisher else 0,
                            last_error=link.stats.last_error if link else None),
            disk_free_bytes=disk_free)

    async def _health_loop(self) -> None:
        """Commit a health event every health_interval_s."""
        while True:
            await asyncio.sleep(self.config.gateway.health_interval_s)
            try:
                data = await self.health()
                self.emit_event(self.config.gateway.gateway_id, Event("health", time.time(), data))
            except Exception:
                log.exception("health report failed")

    async def _watchdog_loop(self) -> None:
        """Ping systemd's watchdog while the outbox writer and the loop are alive."""
        assert self.notifier.watchdog_interval
        while True:
            await asyncio.sleep(self.notifier.watchdog_interval)
            writer = self._tasks[0]
            if not writer.done():
                self.notifier.notify("WATCHDOG=1")
            else:
                log.error("outbox writer is not running; withholding the systemd watchdog so we get restarted")
