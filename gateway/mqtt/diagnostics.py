"""Remote diagnostics: `cmd/doctor`, `cmd/logs` and `cmd/device`, registered on the CommandHandler."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.check import FAIL
from gateway.config import Config
from gateway.events.types.health import DeviceHealth
from gateway.logsetup import LogRing
from gateway.mqtt.commands import CommandError, CommandHandler
from gateway.mqtt.live_doctor import LinkView, check_answer, daemon_checks, link_view

log = logging.getLogger("storegw.cmd")

DOCTOR_TIMEOUT_S = 30.0
"""cmd/doctor answers within this long, with the checks done by then (each probe has its own timeout)."""
LOGS_DEFAULT = 100
LOGS_MAX = 1000
"""Most lines one cmd/logs answer carries (the ring keeps logsetup.RING_CAPACITY)."""
LOGS_MAX_BYTES = 256 * 1024
"""The lines of one answer stop at this many bytes of JSON (the oldest are left out first)."""
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
          "critical": logging.CRITICAL}
DEVICE_ACTIONS = ("restart",)


@dataclass(frozen=True, slots=True)
class DiagnosticsPorts:
    """What the diagnostics commands use of the daemon, each asked when a command runs."""

    running_config: Callable[[], Config]
    config_path: Callable[[], str]
    link: Callable[[], Any]
    """The daemon's MqttLink while one runs, else None."""
    device_health: Callable[[], dict[str, DeviceHealth]]
    """Health of every running device (the supervisor's)."""
    restart_device: Callable[[str], Awaitable[None]]
    """Restart one running device; KeyError for an id not running, TimeoutError if it would not stop."""
    log_ring: LogRing


def register_diagnostics(handler: CommandHandler, ports: DiagnosticsPorts) -> Diagnostics:
    """Answer cmd/doctor, cmd/logs and cmd/device on ``handler``."""
    diagnostics = Diagnostics(ports)
    handler.add("doctor", diagnostics.doctor)
    handler.add("logs", diagnostics.logs)
    handler.add("device", diagnostics.device)
    return diagnostics


class Diagnostics:
    """The three commands; the doctor runs its blocking probes on a thread of its own, one run at a time."""

    def __init__(self, ports: DiagnosticsPorts) -> None:
        """Commands answering from ``ports``."""
        self.ports = ports
        self._doctor_thread: threading.Thread | None = None

    # ---- cmd/doctor ------------------------------------------------------------------------
    async def doctor(self, request: dict[str, Any]) -> dict[str, Any]:
        """The doctor's checks, run inside the daemon: `{ok, checks: [{name, status, detail}], failed}`."""
        if self._doctor_thread is not None and self._doctor_thread.is_alive():
            raise CommandError("busy: a doctor run is still under way (a probe has not timed out yet); "
                               "ask again in a minute")
        # what the live state says is read here, on the loop; the thread only probes
        config, path = self.ports.running_config(), self.ports.config_path()
        link, devices = link_view(self.ports.link()), self.ports.device_health()
        checks: list[dict[str, str]] = []
        finished = await self._run_checks(config, path, link, devices, checks)
        if not finished:
            checks.append({"name": "doctor", "status": FAIL,
                           "detail": f"the checks did not finish within {DOCTOR_TIMEOUT_S:g} s; the ones above "
                                     "are done, the next one hangs (see cmd/logs)"})
        failed = sum(check["status"] == FAIL for check in checks)
        return {"ok": True, "checks": checks, "failed": failed}

    async def _run_checks(self, config: Config, path: str, link: LinkView | None,
                          devices: dict[str, DeviceHealth], checks: list[dict[str, str]]) -> bool:
        """Run the checks on a daemon thread, appending each answer to ``checks``; False on timeout.

        A thread of its own rather than the loop's default executor: a probe that hangs past its own
        timeout then neither holds an executor worker the broker link needs nor delays the exit.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            """Resolve ``done`` on the loop (once)."""
            if not done.done():
                done.set_result(None) if error is None else done.set_exception(error)

        def work() -> None:
            """Run every check (blocking: sockets, subprocesses, file hashes)."""
            error: BaseException | None = None
            try:
                for check in daemon_checks(config, path, link, devices):
                    answer = check_answer(check)
                    loop.call_soon_threadsafe(checks.append, answer)
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(settle, error)
            except RuntimeError:  # the loop closed meanwhile (shutdown)
                pass

        thread = threading.Thread(target=work, name="doctor", daemon=True)
        self._doctor_thread = thread
        thread.start()
        try:
            await asyncio.wait_for(asyncio.shield(done), DOCTOR_TIMEOUT_S)
        except TimeoutError:
            return False
        return True

    # ---- cmd/logs --------------------------------------------------------------------------
    async def logs(self, request: dict[str, Any]) -> dict[str, Any]:
        """The newest `lines` log lines at `level` or above from the ring: `{ok, lines: [...]}`."""
        count = request.get("lines", LOGS_DEFAULT)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= LOGS_MAX:
            shown = json.dumps(count)[:40]
            raise CommandError(f"lines must be a whole number from 1 to {LOGS_MAX}, not {shown}")
        level_name = request.get("level", "info")
        level = LEVELS.get(level_name.lower()) if isinstance(level_name, str) else None
        if level is None:
            shown = json.dumps(level_name)[:40]
            raise CommandError(f"level must be one of {', '.join(LEVELS)}, not {shown}")
        lines = self.ports.log_ring.latest(count, level)
        size, kept = 0, 0
        for line in reversed(lines):  # the newest first: those are kept when the answer would be too big
            size += len(json.dumps(line)) + 2
            if size > LOGS_MAX_BYTES:
                break
            kept += 1
        answer: dict[str, Any] = {"ok": True, "level": level_name.lower(), "lines": lines[len(lines) - kept:]}
        if kept < len(lines):
            answer["truncated"] = True
        return answer

    # ---- cmd/device ------------------------------------------------------------------------
    async def device(self, request: dict[str, Any]) -> dict[str, Any]:
        """Act on one device: `{"id", "action": "restart"}` restarts it through the supervisor."""
        known = sorted(self.ports.device_health())
        device_id = request.get("id")
        if not isinstance(device_id, str) or not device_id:
            raise CommandError(f'give the device id, e.g. {{"id": "door-1", "action": "restart"}}; '
                               f"running devices: {', '.join(known) or 'none'}")
        action = request.get("action")
        if action not in DEVICE_ACTIONS:
            shown = json.dumps(action)[:40]
            raise CommandError(f"action must be one of {', '.join(DEVICE_ACTIONS)}, not {shown}")
        try:
            await self.ports.restart_device(device_id)
        except KeyError:
            shown = json.dumps(device_id)[:80]
            raise CommandError(f"no running device {shown}; running devices: {', '.join(known) or 'none'}") from None
        except TimeoutError as exc:
            raise CommandError(str(exc)) from None
        return {"ok": True, "id": device_id, "action": action}
