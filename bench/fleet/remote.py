"""The two remote config rollouts: one that must commit, one with a wrong broker URL that must roll back by itself.

Each is one cmd/config-apply per gateway (its own local config as tables, changed), sent at once to the
whole fleet, as a backend rolling out a change would. The outcome is each gateway's durable `config`
event, read by the listener.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.fleet.gateways import Gateway
from bench.fleet.listener import Listener
from tests.support.broker import free_port

COMMIT_FILLER = 80
"""The committed config changes the synthetic payload from 64 to this many bytes: visible in every event."""


@dataclass
class Rollout:
    """What one config-apply rollout did across the fleet."""

    version: str
    expected: str
    """committed or rolled_back."""
    sent: int = 0
    accepted: int = 0
    """Answers ok=true state=trial."""
    refused: list[str] = field(default_factory=list)
    """gateway: error, for answers ok=false."""
    unanswered: list[str] = field(default_factory=list)
    busy: int = 0
    """Answers `busy` (the previous trial still finishing), each asked again."""
    outcomes: Counter[str] = field(default_factory=Counter)
    """state -> gateways (from the `config` events)."""
    reasons: Counter[str] = field(default_factory=Counter)
    no_outcome: list[str] = field(default_factory=list)
    trial_s: list[float] = field(default_factory=list)
    all_outcomes_s: float | None = None
    """Seconds from the first request sent to the last outcome received."""
    sent_at: float = 0.0
    """time.time() of the first request."""

    @property
    def ok(self) -> bool:
        """Every gateway reached the expected outcome."""
        return self.outcomes.get(self.expected, 0) == self.sent and not self.refused and not self.no_outcome


def committed_change(gateway: Gateway) -> dict[str, Any]:
    """The config that must commit: the local one with a larger synthetic payload (the device restarts)."""
    tables = gateway.tables()
    tables["devices"][0]["payload_bytes"] = COMMIT_FILLER
    return tables


def dead_broker_change(gateway: Gateway) -> dict[str, Any]:
    """The config that must roll back: the committed one, but its only broker is a port nobody listens on."""
    tables = committed_change(gateway)
    tables["mqtt"]["urls"] = [f"mqtt://127.0.0.1:{free_port()}"]
    return tables


def roll_out(listener: Listener, gateways: list[Gateway], version: str, expected: str,
             make: Any, outcome_timeout: float) -> Rollout:
    """Send ``make(gateway)`` as cmd/config-apply ``version`` to every gateway; wait for every outcome."""
    rollout = Rollout(version, expected)
    requests: dict[str, str] = {}
    by_key = {g.key: g for g in gateways}
    rollout.sent_at = time.time()
    began = time.monotonic()
    for gateway in gateways:
        request_id = uuid.uuid4().hex
        requests[gateway.key] = request_id
        listener.send(gateway.base, "config-apply", {"request_id": request_id, "version": version,
                                                     "config": make(gateway)})
        rollout.sent += 1
    # the answer may be cut off by the config under trial (a new link); the outcome is what counts
    deadline = time.monotonic() + outcome_timeout
    pending = {g.key for g in gateways}
    answered: set[str] = set()
    while pending and time.monotonic() < deadline:
        time.sleep(0.25)
        for key in list(pending):
            if key not in answered:
                answer = listener.answer(key, "config-apply", requests[key])
                if answer is not None and answer.get("busy"):
                    # the previous trial has sent its outcome but not finished recording it: ask again, as
                    # the answer says (a backend does the same)
                    rollout.busy += 1
                    requests[key] = uuid.uuid4().hex
                    listener.send(by_key[key].base, "config-apply", {"request_id": requests[key], "version": version,
                                                                     "config": make(by_key[key])})
                    continue
                if answer is not None:
                    answered.add(key)
                    if answer.get("ok"):
                        rollout.accepted += 1
                    else:
                        rollout.refused.append(f"{key}: {answer.get('error')} {answer.get('errors', '')}")
                        pending.discard(key)
                        continue
            with listener.lock:
                found = [c for c in listener.stream(key).configs if c.get("version") == version]
            if found:
                pending.discard(key)
                rollout.outcomes[found[0]["state"]] += 1
                rollout.reasons[re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", found[0]["reason"])] += 1
                if found[0].get("trial_s") is not None:
                    rollout.trial_s.append(float(found[0]["trial_s"]))
                rollout.all_outcomes_s = round(time.monotonic() - began, 2)
    rollout.no_outcome = sorted(pending)
    rollout.unanswered = sorted({g.key for g in gateways} - answered)
    return rollout


def running_new_config(listener: Listener, gateways: list[Gateway]) -> int:
    """How many gateways' newest synthetic event carries the committed config's payload size."""
    with listener.lock:
        return sum(1 for g in gateways if listener.stream(g.key).filler == COMMIT_FILLER)
