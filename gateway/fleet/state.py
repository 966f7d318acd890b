"""The simulator's optional state file: each simulated gateway's boot and the sequence numbers it reserved.

A real gateway never numbers two events alike, across restarts included; a backend that keys on
(source, sequence) must not see a second simulator run start again at 1. With ``--state FILE`` each run is
a new boot of the same gateways and continues their sequences. The file holds, per gateway, a reservation
above the last number issued (written every few seconds and at exit, atomically), so even a run killed
with SIGKILL is continued above every number it could have issued; the numbers reserved and not used are
simply never seen, as after a daemon crash.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass


@dataclass
class GatewayState:
    """What a run leaves for the next one about one gateway."""

    boot: int
    reserved: int
    """Every number issued so far is at most this."""


class StateFile:
    """Boots and reservations of a simulated fleet, keyed by CloudEvents source."""

    def __init__(self, path: str | None) -> None:
        """The state at ``path`` (None: no state kept, every run starts at boot 1, sequence 1)."""
        self.path = path
        self.gateways: dict[str, GatewayState] = {}
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    raw = json.load(handle)
                self.gateways = {source: GatewayState(int(v["boot"]), int(v["reserved"]))
                                 for source, v in raw["gateways"].items()}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}: not a fleet state file ({type(exc).__name__}: {exc}); "
                                 "move it aside or name another --state file") from None

    def start(self, source: str) -> tuple[int, int]:
        """(boot, first sequence number) of this run of the gateway ``source``."""
        before = self.gateways.get(source)
        if before is None:
            return 1, 1
        return before.boot + 1, before.reserved + 1

    def save(self, reservations: dict[str, tuple[int, int]]) -> None:
        """Write source -> (boot, reserved) for every gateway, atomically; nothing without a path."""
        if not self.path:
            return
        for source, (boot, reserved) in reservations.items():
            self.gateways[source] = GatewayState(boot, reserved)
        body = {"gateways": {s: {"boot": g.boot, "reserved": g.reserved} for s, g in self.gateways.items()}}
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(prefix=".fleet-state-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
