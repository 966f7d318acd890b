"""The daemon: wires the config to the outbox, the broker link, the devices and diagnostics."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from typing import Any

import msgspec

from gateway import __version__
from gateway.audit.feed import CrossingFeed
from gateway.audit.store import commit_audit
from gateway.buildinfo import commit
from gateway.config import Config, ConfigError, load_config
from gateway.config.files import restrict_data_files
from gateway.config.paths import outbox_path, socket_path
from gateway.config.redact import redact_tree, redact_url
from gateway.devices.store_occupancy import OCCUPANCIES
from gateway.diag.server import DiagServer, DiagSources
from gateway.events.envelope import source_of
from gateway.events.types.health import HealthData, MqttHealth, OutboxHealth
from gateway.logsetup import install_log_ring
from gateway.mqtt.commands import CommandHandler, CommandPorts
from gateway.mqtt.device_state import DeviceStates
from gateway.mqtt.diagnostics import DiagnosticsPorts, register_diagnostics
from gateway.mqtt.link import MqttLink
from gateway.mqtt.publisher import Publisher
from gateway.mqtt.replay import ReplayRequest
from gateway.mqtt.settings import LinkSettings, link_settings
from gateway.mqtt.topics import base_topic, event_topic
from gateway.mqtt.uplink import Uplink
from gateway.outbox import ClockUntrusted, Outbox, quota_policy
from gateway.pipelines import Event
from gateway.remote.manager import RemoteConfig, RemotePorts
from gateway.remote.wiring import config_store, observation, start_choice
from gateway.sdnotify import Notifier
from gateway.supervisor import Supervisor
from gateway.tasks import STOP_WAIT_S, settle

log = logging.getLogger("storegw")
STOP_BUDGET_S = 20.0
"""Shutdown's budget: with the link's own 5 s and the socket's 2 s it stays inside systemd's
TimeoutStopSec=30, so the final commit is never SIGKILLed."""


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


def link_error(link: MqttLink | None) -> str | None:
    """The link's error for health: a refused command subscription while connected, else the last one."""
    if link is None:
        return None
    error = link.stats.subscription_error if link.connected else None
    error = error or link.stats.last_error
    return redact_url(error) if error else None


class StartError(Exception):
    """The daemon could not start; the message is one sentence: what failed, on which file, what to do."""


def start_failure(exc: BaseException, step: str, advice: str) -> str:
    """The sentence of a StartError for ``exc`` raised while ``step`` (never a traceback, never a secret)."""
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename and str(exc.filename) not in step:
            reason = f"{exc.filename}: {reason}"
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact_url(f"cannot start: {step} failed ({reason}); {advice}")


def writer_verdict(writer: asyncio.Task[Any] | None, outbox: Outbox) -> str | None:
    """Why the systemd watchdog must be withheld (the outbox writer is gone or stuck), or None to ping it.

    A writer retrying a full disk is neither: it resumes by itself once there is room, RAM stays
    within its bound, and a restart would only lose what RAM holds (see Outbox.stall).
    """
    if writer is None or writer.done():
        return "the outbox writer is not running"
    return outbox.stall()


class Gateway:
    """One running storegw daemon."""

    def __init__(self, config: Config, config_path: str) -> None:
        """A daemon for ``config`` (read from ``config_path``); nothing runs until start()."""
        start_config = start_choice(config, config_path)  # the last committed remote config, else the file
        config = start_config.config
        self.config = config
        self.config_path = config_path
        self.started = time.monotonic()
        self.topic = base_topic(config)
        self.outbox = Outbox(outbox_path(config), source=source_of(config.gateway.store_id, config.gateway.gateway_id),
                             quota=quota_policy(config), batch_max=config.outbox.batch_max,
                             ram_queue_max=config.outbox.ram_queue_max, stall_s=config.outbox.stall_s)
        self.outbox.notice_to = self._notice_route
        self.supervisor = Supervisor(self, config.gateway.data_dir, config_path)
        # devices/{id}/state: retained, on every change and after every birth (gateway/mqtt/device_state.py)
        self.device_states = DeviceStates(self._publish_retained, self._base_topic, lambda: self.outbox.boot)
        self.supervisor.on_state = self.device_states.update
        self.log_ring = install_log_ring()  # cmd/logs answers from it
        self.notifier = Notifier()
        self.uplink: Uplink | None = None
        """The latest broker uplink, kept after it stops: the next one takes over what it left waiting."""
        self.commands: CommandHandler | None = None
        self.diag: DiagServer | None = None
        self.crossings = CrossingFeed()  # what `storegw audit` follows, through the status socket
        self.supervisor.crossing_sink = self.crossings.crossed  # devices tell it each crossing (never published)
        self._tasks: list[asyncio.Task[Any]] = []
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self.remote = RemoteConfig(config_path, config_store(config), start_config, RemotePorts(
            running=self._running_config, apply=self.apply_config, emit=self._commit_config_event,
            observe=lambda: observation(self.link, self.supervisor.health()), flush=self.outbox.flush,
            answers_waiting=self._answers_waiting))

    # ---- events in ---------------------------------------------------------------------
    def _notice_route(self, name: str) -> tuple[str, str]:
        """Subject and topic of the outbox's own notices (sequence-gap): from the gateway, like health."""
        return self.config.gateway.gateway_id, event_topic(self.topic, name)

    def commit_event(self, subject: str, event: Event) -> None:
        """Queue one event of ``subject`` (a device or the gateway) for the outbox (the EventSink call)."""
        self.outbox.submit(event.type, subject, event.time, event.data, event_topic(self.topic, event.type))
        self.crossings.observe(subject, event)

    def _commit_audit(self, report: Any) -> dict[str, Any]:
        """Save an audit report from `storegw audit` and commit it as an `audit` event of its device."""
        return commit_audit(report, self.config.gateway.data_dir, {d.id for d in self.config.devices},
                            self.commit_event)

    def _commit_config_event(self, data: Any) -> None:
        """Queue the outcome of a remote config change (gateway/remote) as a `config` event of the gateway."""
        self.commit_event(self.config.gateway.gateway_id, Event("config", time.time(), data))

    # ---- the broker link, as the parts that use it see it --------------------------------
    @property
    def link(self) -> MqttLink | None:
        """The broker link while one runs (None from a stop until the next start)."""
        return self.uplink.link if self.uplink is not None and not self.uplink.stopped else None

    @property
    def publisher(self) -> Publisher | None:
        """The latest publish window (kept after its link stopped, like its figures)."""
        return self.uplink.publisher if self.uplink is not None else None

    def publish_birth(self) -> int:
        """Retained `{online: true, boot}` on `.../state`; returns the boot announced."""
        assert self.link and self.uplink
        self.uplink.publish_birth()
        return self.outbox.boot

    def _answer(self, topic: str, payload: bytes, properties: Any, busy: bool) -> bool:
        """Queue a command answer in the latest window; False when there never was a link."""
        if self.uplink is None:
            return False
        self.uplink.answer(topic, payload, properties, busy=busy)
        return True

    def _replay(self, from_seq: int, to_seq: int) -> ReplayRequest:
        """Queue a replay in the latest window."""
        assert self.uplink
        return self.uplink.replay(from_seq, to_seq)

    def _answers_waiting(self) -> int:
        """Answers waiting in the latest window."""
        return self.uplink.answers_waiting() if self.uplink is not None else 0

    def _base_topic(self) -> str:
        """The base topic of the running config."""
        return self.topic

    def _running_config(self) -> Config:
        """The config in force (a reload replaces it)."""
        return self.config

    def _command_ports(self) -> CommandPorts:
        """What commands use of the daemon, each asked when a command runs."""
        return CommandPorts(outbox=self.outbox, replay=self._replay, answer=self._answer,
                            answers_waiting=self._answers_waiting, topic=self._base_topic,
                            rebirth=self.publish_birth, running_config=self._running_config,
                            config_origin=self.remote.describe)

    def _diagnostics_ports(self) -> DiagnosticsPorts:
        """What cmd/doctor, cmd/logs and cmd/device use of the daemon (gateway/mqtt/diagnostics.py)."""
        return DiagnosticsPorts(running_config=self._running_config, config_path=lambda: self.config_path,
                                link=lambda: self.link, device_health=self.supervisor.health,
                                restart_device=self.supervisor.restart, log_ring=self.log_ring)

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        """A retained state message (a device's state) on the running link; the next birth republishes it."""
        if self.uplink is not None and not self.uplink.stopped:
            self.uplink.publish_retained(topic, payload)

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start every part; on any error undo what was started and raise StartError (one sentence)."""
        self._step = ("starting", f"check {self.config_path} with `storegw config check {self.config_path}`")
        try:
            await self._start()
        except Exception as exc:
            log.debug("start failed", exc_info=True)
            await self._abort_start()
            raise StartError(start_failure(exc, *self._step)) from exc

    async def _abort_start(self) -> None:
        """Undo a start that failed half way, so no thread, task or socket keeps the process alive."""
        writer, others = (self._tasks[0], self._tasks[1:]) if self._tasks else (None, [])
        for task in others:
            task.cancel()
        steps = (self.supervisor.stop_all(), self._stop_link("start failed", 2.0),
                 self.diag.stop() if self.diag else None, settle(others, "start", 2.0),
                 stop_writer(self.outbox, writer, 5.0) if writer else self.outbox.close())
        for step in steps:
            if step is None:
                continue
            try:
                await step
            except Exception as exc:  # the first error is the one to report; this one is only logged
                log.debug("while undoing the start: %r", exc)

    async def _start(self) -> None:
        """Open the outbox and start every part; returns once all are running."""
        data_dir = self.config.gateway.data_dir
        self._step = (f"creating data_dir {data_dir}", f"check gateway.data_dir in {self.config_path} "
                      "and that the storegw user may write there")
        os.makedirs(data_dir, mode=0o750, exist_ok=True)
        self._step = (f"opening the outbox {self.outbox.path}", "check that data_dir is on a writable disk "
                      "with room and that the storegw user owns the outbox files")
        try:
            await self.outbox.open()
        except ClockUntrusted:
            self._step = (f"numbering the outbox {self.outbox.path}", "set the time (NTP, timedatectl); systemd "
                          "starts storegw again on its own")
            raise
        for path in restrict_data_files(data_dir):  # made by an earlier run under a looser umask
            log.warning("%s is readable by others and could not be restricted: chown it to the storegw user", path)
        self._step = ("reading the [mqtt] settings", f"check the [mqtt] files in {self.config_path} "
                      f"(`storegw config check {self.config_path}`)")
        log.info("storegw %s: store %s gateway %s, boot %d, outbox at seq %d with %d pending",
                 __version__, self.config.gateway.store_id, self.config.gateway.gateway_id,
                 self.outbox.boot, self.outbox.last_seq, self.outbox.pending)
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        self._start_link()
        self._step = (f"creating the status socket {socket_path(self.config)}", f"check [diag] socket in "
                      f"{self.config_path}: its folder must exist and the path be at most 107 bytes")
        self.diag = DiagServer(DiagSources(status=self.status, subscribe=self.outbox.subscribe,
                                           crossings=self.crossings.subscribe, audit=self._commit_audit),
                               socket_path(self.config), self.config.diag.mode)
        await self.diag.start()
        self._step = ("starting the devices", f"check [[devices]] in {self.config_path}")
        OCCUPANCIES.configure(self.config.devices)  # each store count's settings, before any of its doors joins
        for device in self.config.devices:
            if device.enabled:
                self.supervisor.start(device)
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if self.notifier.watchdog_interval:
            self._tasks.append(asyncio.create_task(self._watchdog_loop(), name="watchdog"))
        await self.remote.start()  # what the start decided about remote configs, as config events
        self.notifier.notify("READY=1", f"STATUS=running; outbox seq {self.outbox.last_seq}")

    def _start_link(self, settings: LinkSettings | None = None) -> None:
        """Start an uplink for the config (``settings``: already read); it takes over the last one's waiting work."""
        settings = settings or link_settings(self.config, self.config_path, self.outbox.boot)
        self.commands = CommandHandler(self._command_ports())
        self.commands.add("config-apply", self.remote.command)
        register_diagnostics(self.commands, self._diagnostics_ports())  # cmd/doctor, cmd/logs, cmd/device
        self.uplink = Uplink(self.outbox, settings, replay_share=self.config.mqtt.replay_share,
                             on_message=self.commands.on_message, previous=self.uplink,
                             on_birth=self.device_states.republish)
        self.uplink.start()

    async def _stop_link(self, reason: str, wait_s: float = STOP_WAIT_S) -> None:
        """Publish the offline state and close the broker link."""
        if self.uplink is not None:
            await self.uplink.stop(reason, wait_s)

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
                try:
                    await self.reload()
                except Exception as exc:  # never let a reload end the daemon
                    log.error("reload failed while being applied (%s: %s); the running parts go on",
                              type(exc).__name__, exc)
                    if self.link is None:
                        try:
                            self._start_link()
                        except Exception as again:
                            log.error("broker link not restarted (%s); fix the config and reload", again)
        await self.shutdown()
        return 0

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
        await self.remote.stop()  # a trial cut here is rolled back at the next start
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
        """SIGHUP: re-read the config file and apply it (or the committed remote config while the file is
        unchanged, see gateway/remote); keep the outbox, restart only what changed; a bad config changes nothing."""
        if self.remote.busy is not None:  # the trial decides first; then the reload runs
            log.warning("reload waits for the end of the trial of remote config version %r", self.remote.busy)
            self.remote.after_trial = self._reload.set
            return
        refused = "reload refused, keeping the running config: %s"
        try:
            new = load_config(self.config_path)
            if new.gateway.data_dir != self.config.gateway.data_dir:
                log.error("reload: gateway.data_dir changed; that needs a restart (kept %s)",
                          self.config.gateway.data_dir)
                return
            new = await self.remote.reload_target(new)
            # Secrets are compared too, so a changed password file takes effect on SIGHUP.
            wanted = link_settings(new, self.config_path, self.outbox.boot)
        except ConfigError as exc:
            log.error(refused, "; ".join(str(problem) for problem in exc.problems))
            return
        except OSError as exc:  # a secret file changed since load_config checked it
            log.error(refused, f"cannot read {exc.filename} ({exc.strerror}); fix it and reload again")
            return
        except Exception as exc:  # anything else that makes the new config unusable
            log.error(refused, f"{self.config_path}: {type(exc).__name__}: {exc}; fix it and reload again")
            return
        changes = await self.apply_config(new, wanted)
        log.info("config reloaded from %s: %s", self.config_path, ", ".join(changes) or "no device changes")

    async def apply_config(self, new: Config, wanted: LinkSettings | None = None) -> list[str]:
        """Apply a checked config live (SIGHUP, a remote trial, its rollback): only what changed restarts.

        Returns the device changes. ``wanted``: its link settings, when already read."""
        if new.gateway.data_dir != self.config.gateway.data_dir:
            raise ValueError("gateway.data_dir cannot change while storegw runs")
        wanted = wanted or link_settings(new, self.config_path, self.outbox.boot)
        old = self.config
        link_changed = self.link is None or wanted != self.link.settings
        self.config = new
        if link_changed or new.gateway != old.gateway:
            await self._stop_link("reconfiguring")
            self.topic = base_topic(new)
            self.outbox.source = source_of(new.gateway.store_id, new.gateway.gateway_id)
            self._start_link(wanted)
        self.outbox.stall_s = new.outbox.stall_s
        OCCUPANCIES.configure(new.devices)  # the counts stay; their reset times and limits follow the new config
        return await self.supervisor.apply(new.devices)

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
            devices=self.supervisor.health(),  # the supervisor redacts each device's last_error
            outbox=OutboxHealth(last_seq=stats["last_seq"], pending=stats["pending"],
                                oldest_pending_age_s=stats["oldest_pending_age_s"], bytes=stats["bytes"],
                                max_bytes=stats["max_bytes"], dropped=stats["dropped"],
                                write_errors=stats["write_errors"], queued_in_ram=stats["queued_in_ram"],
                                writer=stats["writer"] if self._tasks and not self._tasks[0].done() else "stopped",
                                last_error=stats["last_error"], recoveries=stats["recoveries"]),
            mqtt=MqttHealth(connected=bool(link and link.connected),
                            last_puback_age_s=None if last_puback is None else round(time.monotonic() - last_puback, 3),
                            reconnects=link.stats.reconnects if link else 0,
                            inflight=len(self.publisher.inflight) if self.publisher else 0,
                            last_error=link_error(link),
                            broker=str(link.broker) if link else None),
            disk_free_bytes=disk_free)

    async def status(self) -> dict[str, Any]:
        """Everything `storegw status` shows: the health data, who this gateway is and where it publishes."""
        health = msgspec.to_builtins(await self.health())
        link = self.link
        health["mqtt"]["broker"] = str(link.broker) if link else None  # the failover list's current one
        health["store_id"] = self.config.gateway.store_id
        health["gateway_id"] = self.config.gateway.gateway_id
        health["config"] = self.config_path
        health["boot"] = self.outbox.boot
        health["version"] = __version__
        health["commit"] = commit()
        health["outbox"]["queued_in_ram"] = self.outbox.queued
        publisher = self.publisher
        health["mqtt"]["acked"] = publisher.acked if publisher else 0
        return redact_tree(health)  # device errors can quote a camera URL with its password

    async def _health_loop(self) -> None:
        """Commit a health event every health_interval_s."""
        while True:
            await asyncio.sleep(self.config.gateway.health_interval_s)
            try:
                data = await self.health()
                self.commit_event(self.config.gateway.gateway_id, Event("health", time.time(), data))
            except Exception:
                log.exception("health report failed")

    async def _watchdog_loop(self) -> None:
        """Ping systemd's watchdog while the loop runs and the outbox writer is alive and not stuck."""
        assert self.notifier.watchdog_interval
        withheld = False
        while True:
            await asyncio.sleep(self.notifier.watchdog_interval)
            verdict = writer_verdict(self._tasks[0] if self._tasks else None, self.outbox)
            if verdict is None:
                if withheld:
                    log.warning("outbox: committing again; pinging the systemd watchdog again")
                    self.notifier.notify(f"STATUS=running; outbox seq {self.outbox.last_seq}")
                self.notifier.notify("WATCHDOG=1")
            elif not withheld:
                log.error("outbox: %s; withholding the systemd watchdog so that systemd restarts storegw "
                          "(the %d events in RAM are lost then)", verdict, self.outbox.queued)
                self.notifier.notify(f"STATUS=outbox writer stuck: {verdict}")
            withheld = verdict is not None
