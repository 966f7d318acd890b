"""Which config a start uses: the last committed remote config when intact, valid and current, else the local file.

Rules, in order (each one logged; the ones the backend must know also become `config` events):

1. A trial found in the state file was cut by a restart (or a power cut): it is not committed, and a
   `rolled_back` event says "interrupted by a restart".
2. The committed remote config is used only while the local file is the one it was committed over
   (same sha256): when store IT edits the local file, the local file wins from then on.
3. A committed version whose file is missing, damaged (sha256 differs) or no longer passes the
   checks is skipped: the earlier committed versions are tried newest first (same rule 2), then the
   local file. A damaged file is set aside (``*.corrupt-TIME``); a state file that cannot be read is
   set aside too and the local file is used. The box never starts without a working config: the
   local file has been checked before any of this runs.

``dry_run`` (for `storegw config show`) changes nothing on disk.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Literal

from gateway.config import Config, ConfigError
from gateway.events.types.remote_config import ConfigData
from gateway.remote.request import IDENTITY_KEYS, stored_config
from gateway.remote.store import ConfigStore, Entry, State, StoreCorrupt, file_sha256

log = logging.getLogger("storegw.remote")


@dataclass
class Origin:
    """Where the running config came from: the local file, or a remote version (committed or on trial)."""

    source: Literal["local", "remote"]
    sha256: str
    path: str
    version: str | None = None
    state: Literal["committed", "trial"] = "committed"
    since: float | None = None
    """Unix time the remote version was committed (or its trial started)."""

    def as_answer(self) -> dict[str, object]:
        """The fields cmd/config adds to the running config."""
        return {"source": self.source, "version": self.version, "sha256": self.sha256, "state": self.state,
                "since": self.since, "path": self.path}


@dataclass
class StartChoice:
    """The config a start uses, where it came from, and what to tell the backend and save once running."""

    config: Config
    origin: Origin
    state: State
    notices: list[ConfigData] = field(default_factory=list)
    save: bool = False
    """The state changed (a trial ended, a version set aside): save it once the notices are committed."""


def local_origin(local_path: str) -> Origin:
    """The origin of the local config file."""
    return Origin("local", file_sha256(local_path) or "", os.path.abspath(local_path))


def _identity_problem(config: Config, local: Config) -> str | None:
    """Why a stored config does not belong to this gateway (identity keys differ), or None."""
    for key in IDENTITY_KEYS:
        if getattr(config.gateway, key) != getattr(local.gateway, key):
            return f"its gateway.{key} differs from the local file's"
    return None


def _try_entry(store: ConfigStore, entry: Entry, local: Config, local_path: str,
               dry_run: bool) -> tuple[Config | None, str | None]:
    """A stored version's config, or why it cannot be used (a damaged file is set aside unless dry_run)."""
    try:
        text = store.read_version(entry)
    except StoreCorrupt as exc:
        if not dry_run:
            try:
                store.set_aside(store.version_path(entry.slot))
            except OSError as again:
                log.error("config: cannot set %s aside (%s)", store.version_path(entry.slot), again.strerror)
            entry.outcome = "corrupt"
        return None, str(exc)
    try:
        config = stored_config(text, local_path)
    except ConfigError as exc:
        return None, "it no longer passes the checks: " + "; ".join(f"{p.key}: {p.message}" for p in exc.problems)
    problem = _identity_problem(config, local)
    return (None, problem) if problem else (config, None)


def choose_at_start(local: Config, local_path: str, store: ConfigStore, now: float,
                    dry_run: bool = False) -> StartChoice:
    """The config a start uses (see the module's rules)."""
    origin = local_origin(local_path)
    try:
        state = store.load_state()
    except StoreCorrupt as exc:
        log.error("config: %s; using the local file %s", exc, local_path)
        if not dry_run:
            try:
                store.set_aside(store.state_path)
            except OSError as again:
                log.error("config: cannot set %s aside (%s)", store.state_path, again.strerror)
        return StartChoice(local, origin, State(), save=not dry_run)
    choice = StartChoice(local, origin, state)
    committed = state.entry(state.committed)
    if state.trial is not None:
        tried = state.entry(state.trial.slot)
        if tried is not None:
            tried.outcome = "rolled_back"
            choice.notices.append(ConfigData(
                version=tried.version, state="rolled_back", sha256=tried.sha256,
                reason="interrupted by a restart before it was committed; the last committed config is in force",
                previous_version=state.trial.previous_version, request_id=tried.request_id))
        log.warning("config: the trial of version %r was interrupted by a restart; not committed",
                    tried.version if tried else "?")
        state.trial = None
        choice.save = True
    if committed is None:
        return _settled(choice)
    candidates = [committed] + [e for e in reversed(state.history)
                                if e.outcome == "committed" and e.slot != committed.slot]
    for entry in candidates:
        if entry.local_sha256 != origin.sha256:
            log.warning("config: %s changed since remote version %r was committed; the local file wins",
                        local_path, entry.version)
            if entry is committed:
                choice.notices.append(ConfigData(
                    version=entry.version, state="rolled_back", sha256=entry.sha256, request_id=entry.request_id,
                    reason="the local config file was edited since this version was committed; it is in force now"))
            break
        config, problem = _try_entry(store, entry, local, local_path, dry_run)
        if config is not None:
            state.committed = entry.slot
            choice.config = config
            choice.origin = Origin("remote", entry.sha256, store.version_path(entry.slot), entry.version,
                                   "committed", entry.committed_at)
            choice.save = choice.save or entry is not committed
            return _settled(choice)
        log.error("config: stored version %r cannot be used (%s); trying the one before", entry.version, problem)
        choice.notices.append(ConfigData(
            version=entry.version, state="rolled_back", sha256=entry.sha256, request_id=entry.request_id,
            reason=f"the stored config cannot be used at start: {problem}", previous_version=entry.version))
    state.committed = None
    choice.save = True
    return _settled(choice)


def _settled(choice: StartChoice) -> StartChoice:
    """``choice`` with every notice naming the version in force after it."""
    for notice in choice.notices:
        notice.active_version = choice.origin.version
    return choice
