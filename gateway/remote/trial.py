"""The trial of a remote config: commit or roll back, judged from what the gateway sees; no I/O, the clock passed in.

A trial commits once, within ``commit_after_s`` of the apply, the broker link is up and every device
that was connected before the apply (and is still configured and enabled) is connected again, and
both have held for ``settle_s`` without a break (so a device that connects and drops at once, or a
link that flaps, does not commit it). At the deadline without that, it rolls back; the reason names
what was missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.config.redact import redact_url

SETTLE_MAX_S = 5.0
"""The longest a good state must hold before a commit (a quarter of commit_after_s when that is shorter)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a trial ended: committed or rolled_back, and one sentence why."""

    state: Literal["committed", "rolled_back"]
    reason: str


@dataclass(frozen=True, slots=True)
class Observation:
    """What the gateway sees at one moment: the link, its last error, and each device's state and error."""

    link_up: bool
    link_error: str | None = None
    devices: dict[str, str] = field(default_factory=dict)
    """device id -> state (connected, starting, reconnecting, failed, stopped)."""
    errors: dict[str, str] = field(default_factory=dict)
    """device id -> its last error, for the reason of a rollback."""


def settle_time(commit_after_s: float) -> float:
    """How long the good state must hold before a commit."""
    return min(SETTLE_MAX_S, commit_after_s / 4)


@dataclass
class TrialClock:
    """The judge of one trial: started at ``started`` (a monotonic clock), watching ``watched`` devices."""

    started: float
    commit_after_s: float
    watched: frozenset[str]
    """The devices connected before the apply that the new config still runs."""
    good_since: float | None = None
    last: Observation | None = None

    @property
    def deadline(self) -> float:
        """When the trial rolls back unless it has committed."""
        return self.started + self.commit_after_s

    def missing(self, seen: Observation) -> list[str]:
        """What keeps ``seen`` from committing, one phrase each (empty: all is well)."""
        problems = []
        if not seen.link_up:
            error = f" (last error: {redact_url(seen.link_error)})" if seen.link_error else ""
            problems.append(f"the broker link is not up{error}")
        for device_id in sorted(self.watched):
            state = seen.devices.get(device_id, "stopped")
            if state != "connected":
                error = seen.errors.get(device_id)
                problems.append(f"device {device_id} is {state}" + (f" ({redact_url(error)})" if error else ""))
        return problems

    def observe(self, now: float, seen: Observation) -> Outcome | None:
        """Judge the trial at ``now``: an Outcome once it is decided, else None (look again later)."""
        self.last = seen
        problems = self.missing(seen)
        if problems:
            self.good_since = None
        elif self.good_since is None:
            self.good_since = now
        if self.good_since is not None and now - self.good_since >= settle_time(self.commit_after_s):
            devices = f"{len(self.watched)} device(s) connected again" if self.watched else "no device to wait for"
            return Outcome("committed", f"broker link up and {devices} after {now - self.started:.1f} s")
        if now >= self.deadline:
            return Outcome("rolled_back", f"not healthy within commit_after_s = {self.commit_after_s:g} s: "
                           + "; ".join(problems or ["it had not stayed healthy long enough"]))
        return None
