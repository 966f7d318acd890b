"""The writer's error policy: count each failed attempt, report each new error once, and judge when it is stuck.

A failing spell runs from the first failed attempt to the next commit. Within it a log line is
written for each new error, not for every retry; a full disk is survived (attempts keep
ending), while a hang or any other lasting failure counts as stuck for the watchdog.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from gateway.outbox.errors import describe, is_full
from gateway.outbox.ledger import Ledger
from gateway.outbox.rows import Draft

log = logging.getLogger("storegw.outbox")

DISTINCT_ERRORS_LOGGED = 20
"""Distinct errors logged in one failing spell; more are only counted (a failure cannot flood the log)."""


class Failures:
    """The failing spell of the writer (if any), when it last made progress, and what was reported."""

    def __init__(self, ledger: Ledger, monotonic: Callable[[], float], ram_queue_max: int,
                 drop_order: tuple[str, ...]) -> None:
        """No failing spell yet; failed attempts are counted in ``ledger``."""
        self.ledger = ledger
        self.monotonic = monotonic
        self.ram_queue_max = ram_queue_max
        self.drop_order = drop_order
        self.last_error: str | None = None
        self.failing_since: float | None = None
        self.failures = 0
        """Failed attempts in a row."""
        self.disk_full = False
        self.logged: set[str] = set()
        self.ram_drops_in_spell = 0
        self.progress_at = monotonic()
        """Last commit, or when work arrived at an idle writer."""
        self.attempt_at = monotonic()
        """Last attempt that ended, committed or failed."""

    def work_arrived(self) -> None:
        """Work came to an idle writer: the stall clock starts now."""
        self.progress_at = self.monotonic()

    def progressed(self) -> None:
        """A transaction committed."""
        self.progress_at = self.monotonic()

    def attempt_ended(self) -> None:
        """An attempt (or a step of maintenance) ended, whatever its outcome."""
        self.attempt_at = self.monotonic()

    def first_report(self, key: str) -> bool:
        """Whether ``key`` is reported for the first time in this spell (and from now on known)."""
        if key in self.logged:
            return False
        self.logged.add(key)
        return True

    def ram_dropped(self, draft: Draft) -> None:
        """Count one event the RAM bound pushed out; say so once per failing spell."""
        self.ledger.count_drop(f"ram:{draft.name}", 1)
        self.ram_drops_in_spell += 1
        if self.ram_drops_in_spell == 1:
            log.error("outbox: %d events wait in RAM, its bound (ram_queue_max); dropping by the drop policy "
                      "(%s first, then the oldest), each counted as ram:TYPE", self.ram_queue_max,
                      ", ".join(self.drop_order) or "none")

    def succeeded(self, in_ram: int) -> None:
        """A transaction committed: end the failing spell, saying so once."""
        if self.failing_since is not None:
            log.warning("outbox: committing again after %d failed attempts in %.0f s; %d events wait in RAM, "
                        "%d were dropped from it meanwhile", self.failures, self.monotonic() - self.failing_since,
                        in_ram, self.ram_drops_in_spell)
            self.failing_since = None
            self.failures = 0
            self.disk_full = False
            self.logged.clear()
        if self.ram_drops_in_spell and in_ram <= self.ram_queue_max // 2:
            log.warning("outbox: the RAM queue is back under half its bound; %d events were dropped from it",
                        self.ram_drops_in_spell)
            self.ram_drops_in_spell = 0
        self.last_error = None

    def failed(self, exc: BaseException, during: str, waiting: int) -> None:
        """Count and report a failed attempt: a log line for each new error, not for every retry.

        ``during`` is write or maintenance (a failed attempt: counted in write_errors, shown in
        health, judged by the watchdog) or recovery or state file (what was tried about it: logged).
        ``waiting`` is the number of events in RAM.
        """
        self.attempt_at = self.monotonic()
        text, full = describe(exc), is_full(exc)
        if during in ("write", "maintenance"):
            self.ledger.counters.write_errors += 1
            self.ledger.dirty_counters = True
            self.failures += 1
            if self.failing_since is None:
                self.failing_since = self.monotonic()
            self.last_error, self.disk_full = text, full
        key = f"{during}:{text}"
        if key in self.logged or len(self.logged) >= DISTINCT_ERRORS_LOGGED:
            return
        self.logged.add(key)
        if full:
            log.error("outbox: the disk is full (%s, during %s); %d events wait in RAM (at most %d) and the writer "
                      "retries until there is room", text, during, waiting, self.ram_queue_max)
        elif isinstance(exc, sqlite3.Error | OSError):
            log.error("outbox: %s failed (%s); %d events wait in RAM and it is retried with backoff",
                      during, text, waiting)
        else:
            log.error("outbox: %s failed unexpectedly (%s); %d events wait in RAM and it is retried with backoff",
                      during, text, waiting, exc_info=exc)

    def stall(self, limit: float, *, busy: bool, queued: int, in_ram: int) -> str | None:
        """Why the writer counts as stuck (nothing committed for ``limit`` s while ``busy``), or None.

        Retrying a full disk is not being stuck: attempts keep ending, RAM stays within its bound,
        and a restart would only lose what RAM holds. Being hung (no attempt ends) or failing any
        other way for that long is, and the watchdog then lets systemd restart the daemon.
        """
        if not busy:
            return None
        now = self.monotonic()
        idle_for = now - self.progress_at
        if idle_for < limit:
            return None
        if self.disk_full and now - self.attempt_at < limit and in_ram <= self.ram_queue_max:
            return None
        since_attempt = now - self.attempt_at
        doing = (f"the last attempt failed with {self.last_error}" if since_attempt < limit and self.last_error
                 else f"no attempt has ended for {since_attempt:.0f} s (hung)")
        return f"nothing committed for {idle_for:.0f} s with {queued} events waiting; {doing}"
