"""`cmd/config-apply` and the life of a remote config in the daemon: store, apply as a trial, commit or roll back.

The daemon is seen through RemotePorts only. One trial at a time: a second request during a trial
answers busy. The answer goes out at once (``state: "trial"``); the outcome follows as a durable
`config` event, committed to the outbox before the state file records it (a power cut between the
two repeats the outcome as "interrupted by a restart", never loses it). The length of a trial is
the running config's ``[remote] commit_after_s``, not the new one's: the config being judged does
not choose its own judge.

SIGHUP re-reads the local file (a SIGHUP during a trial waits for its end): while the local file is
the one the committed remote config was committed over (same sha256), the committed remote config
is re-applied (its secret files re-read); once the local file differs, the local file wins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.config import Config, ConfigError
from gateway.config.redact import redact_url
from gateway.events.types.remote_config import ConfigData
from gateway.remote.request import Refused, remote_config, request_id_of, request_version, stored_config
from gateway.remote.startup import Origin, StartChoice, local_origin
from gateway.remote.store import ConfigStore, Entry, StoreCorrupt, Trial, file_sha256
from gateway.remote.trial import Observation, Outcome, TrialClock

log = logging.getLogger("storegw.remote")
POLL_S = 0.25
"""How often a trial looks at the link and the devices."""
ANSWER_WAIT_S = 2.0
"""How long the apply waits for the command's answer to leave (a new link may cut it off)."""
FLUSH_S = 10.0


@dataclass(frozen=True, slots=True)
class RemotePorts:
    """What the remote config uses of the daemon."""

    running: Callable[[], Config]
    """The config in force."""
    apply: Callable[[Config], Awaitable[object]]
    """Apply a config live (what SIGHUP does): the link restarts only if its settings changed."""
    observe: Callable[[], Observation]
    """The link and the devices right now."""
    emit: Callable[[ConfigData], None]
    """Commit a `config` event to the outbox."""
    flush: Callable[[float], Awaitable[bool]]
    """Wait until what was emitted is committed (False on timeout)."""
    answers_waiting: Callable[[], int]
    """Command answers not yet handed to the broker link."""


class RemoteConfig:
    """The remote configs of one daemon: the origin of the running config, the trial, the stored versions."""

    def __init__(self, local_path: str, store: ConfigStore, choice: StartChoice, ports: RemotePorts,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        """From the start's ``choice`` (see startup.choose_at_start); nothing runs until start()."""
        self.local_path = local_path
        self.store = store
        self.state = choice.state
        self.origin = choice.origin
        self.local_sha = local_origin(local_path).sha256
        self.ports = ports
        self.clock = clock
        self.wall = wall
        self.after_trial: Callable[[], None] | None = None
        """Called once the trial ends (a SIGHUP that came during it)."""
        self._notices = choice.notices
        self._save = choice.save
        self._busy: str | None = None
        """The version on trial (or being stored for one)."""
        self._task: asyncio.Task[None] | None = None
        self._recording = False

    @property
    def busy(self) -> str | None:
        """The version on trial, or None."""
        return self._busy

    async def start(self) -> None:
        """Tell the backend what the start decided (outbox open by now), then record it."""
        for notice in self._notices:
            self.ports.emit(notice)
        if self._notices and not await self.ports.flush(FLUSH_S):
            log.warning("config: the start's config events are not committed yet; the state file waits")
            return  # the next start repeats them: better twice than never
        if self._save:
            await self._save_state()

    async def stop(self) -> None:
        """Stop a trial in progress (shutdown): it stays in the state file and the next start rolls it back;
        a trial already decided is left to record its outcome first."""
        if self._task is not None and not self._task.done():
            if not self._recording:  # decided already: let it record the outcome it announced
                self._task.cancel()
            await asyncio.wait([self._task], timeout=FLUSH_S + 5)

    def describe(self) -> dict[str, Any]:
        """version, sha256, source, state of the running config, for cmd/config."""
        return self.origin.as_answer()

    # ---- cmd/config-apply --------------------------------------------------------------
    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """Check a config from the backend and start its trial; answer at once (the outcome is an event)."""
        running = self.ports.running()
        if not running.remote.config_apply:
            return {"ok": False, "error": "remote config changes are turned off on this gateway "
                                          "([remote] config_apply = false); nothing changed"}
        if self._busy is not None:
            return {"ok": False, "busy": True, "error": f"busy: version {self._busy!r} is on trial; ask again after "
                                                        "its config event"}
        try:
            version = request_version(request)
            config, text = remote_config(request.get("config"), running, self.local_path)
        except Refused as exc:
            log.warning("config-apply refused, nothing changed: %s", redact_url("; ".join(exc.errors)))
            return {"ok": False, "error": f"the config is refused ({len(exc.errors)} problem(s)); nothing changed",
                    "errors": [redact_url(error) for error in exc.errors]}
        if self._busy is not None:  # another request got in while this one was checked
            return {"ok": False, "busy": True, "error": f"busy: version {self._busy!r} is on trial"}
        self._busy = version
        try:
            entry = await asyncio.to_thread(self._store_trial, text, version, request_id_of(request))
        except OSError as exc:
            self._busy = None
            return {"ok": False, "error": f"cannot store the config under {self.store.folder} ({exc.strerror}); "
                                          "nothing changed"}
        commit_after_s = running.remote.commit_after_s
        self._task = asyncio.create_task(self._trial(entry, config, running, commit_after_s), name="config-trial")
        log.info("config-apply: version %r (sha256 %s) on trial for up to %g s", version, entry.sha256[:12],
                 commit_after_s)
        return {"ok": True, "version": version, "state": "trial", "commit_after_s": commit_after_s,
                "sha256": entry.sha256}

    def _store_trial(self, text: str, version: str, request_id: str | None) -> Entry:
        """Write the version and a state naming its trial (blocking: run in a thread)."""
        entry = self.store.add_version(self.state, text, version, request_id, self.wall())
        self.state.trial = Trial(slot=entry.slot, started_at=entry.stored_at, previous_version=self.origin.version)
        self.store.save_state(self.state)
        return entry

    async def _trial(self, entry: Entry, config: Config, previous: Config, commit_after_s: float) -> None:
        """Apply, judge, then commit or roll back; always ends the trial."""
        previous_origin = self.origin
        started = self.clock()
        try:
            await self._answer_out()
            before = self.ports.observe()
            enabled = {d.id for d in config.devices if d.enabled}
            judge = TrialClock(self.clock(), commit_after_s,
                               frozenset(d for d, s in before.devices.items() if s == "connected" and d in enabled))
            self.origin = Origin("remote", entry.sha256, self.store.version_path(entry.slot), entry.version,
                                 "trial", entry.stored_at)
            outcome = await self._judge(config, judge)
            if outcome.state == "rolled_back":
                log.error("config: version %r rolled back: %s", entry.version, outcome.reason)
                await self._restore(previous, previous_origin)
            else:
                log.info("config: version %r committed: %s", entry.version, outcome.reason)
                self.origin = Origin("remote", entry.sha256, self.store.version_path(entry.slot), entry.version,
                                     "committed", self.wall())
            self._recording = True
            await self._record(entry, outcome, previous_origin, self.clock() - started)
        finally:
            self._busy = None
            self._recording = False
            if self.after_trial is not None:
                callback, self.after_trial = self.after_trial, None
                callback()

    async def _answer_out(self) -> None:
        """Give the command's answer a moment to leave before the link may be replaced."""
        deadline = self.clock() + ANSWER_WAIT_S
        await asyncio.sleep(0.05)  # the handler queues the answer once the command returns
        while self.ports.answers_waiting() and self.clock() < deadline:
            await asyncio.sleep(0.05)

    async def _judge(self, config: Config, judge: TrialClock) -> Outcome:
        """Apply ``config`` and watch until the trial is decided."""
        try:
            await self.ports.apply(config)
        except Exception as exc:
            log.debug("applying the trial config failed", exc_info=True)
            return Outcome("rolled_back", redact_url(f"applying it failed ({type(exc).__name__}: {exc})"))
        while True:
            outcome = judge.observe(self.clock(), self.ports.observe())
            if outcome is not None:
                return outcome
            await asyncio.sleep(POLL_S)

    async def _restore(self, previous: Config, previous_origin: Origin) -> None:
        """Apply the config that ran before the trial again."""
        self.origin = previous_origin
        try:
            await self.ports.apply(previous)
        except Exception as exc:  # it ran a minute ago; the daemon's own retry (reload) is the way out now
            log.error("config: restoring the previous config failed (%s: %s); send SIGHUP or restart storegw",
                      type(exc).__name__, exc)

    async def _record(self, entry: Entry, outcome: Outcome, previous: Origin, took: float) -> None:
        """Commit the outcome event, then write the state file (so a power cut never loses the outcome)."""
        self.ports.emit(ConfigData(
            version=entry.version, state=outcome.state, reason=outcome.reason, sha256=entry.sha256,
            previous_version=previous.version, active_version=self.origin.version, request_id=entry.request_id,
            trial_s=round(took, 3)))
        if not await self.ports.flush(FLUSH_S):
            log.warning("config: the outcome event of version %r is not committed yet", entry.version)
        entry.outcome = outcome.state
        self.state.trial = None
        if outcome.state == "committed":
            entry.committed_at = self.wall()
            entry.local_sha256 = self.local_sha
            self.state.committed = entry.slot
        await self._save_state()

    async def _save_state(self) -> None:
        """Prune and save the state file, then delete the pruned versions' files (in a thread)."""

        def save() -> None:
            """Blocking part."""
            gone = self.store.prune(self.state)
            self.store.save_state(self.state)
            self.store.delete_versions(gone)

        try:
            await asyncio.to_thread(save)
        except OSError as exc:
            log.error("config: cannot save %s (%s); after a restart the last saved state is used",
                      self.store.state_path, exc.strerror)

    # ---- SIGHUP ------------------------------------------------------------------------
    async def reload_target(self, local: Config) -> Config:
        """The config a SIGHUP applies, ``local`` being the local file just read and checked."""
        sha = file_sha256(self.local_path) or ""
        committed = self.state.entry(self.state.committed)
        if committed is not None and committed.local_sha256 == sha:
            try:
                config = stored_config(await asyncio.to_thread(self.store.read_version, committed), self.local_path)
            except (StoreCorrupt, ConfigError) as exc:
                log.error("config: remote version %r cannot be re-applied (%s); applying the local file",
                          committed.version, exc)
            else:
                log.info("config: the local file is unchanged; re-applying remote version %r", committed.version)
                return config
        elif committed is not None:
            log.warning("config: %s changed since remote version %r was committed; the local file wins",
                        self.local_path, committed.version)
            self.state.committed = None
            self.ports.emit(ConfigData(version=committed.version, state="rolled_back", sha256=committed.sha256,
                                       reason="the local config file was edited since this version was committed; "
                                       "it is in force now", previous_version=committed.version,
                                       request_id=committed.request_id))
            await self.ports.flush(FLUSH_S)
            await self._save_state()
        self.local_sha = sha
        self.origin = local_origin(self.local_path)
        return local
