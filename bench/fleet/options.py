"""What one fleet-scenario run does: how many daemons, how long each phase, the fleet-simulate part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class FleetOptions:
    """The parameters of one run (defaults: the full scenario of issue 12)."""

    gateways: int = 100
    rate: float = 1.0
    """Synthetic events per second per gateway."""
    batch: int = 10
    """Daemons started at once; the next batch starts once this one answers on its status sockets."""
    startup_delay_max_s: float = 5.0
    """Each daemon's mqtt.startup_delay_max_s: the random wait before a first connect and after a lost one."""
    commit_after_s: float = 10.0
    """[remote] commit_after_s of every daemon: how long a remote config is on trial."""
    warmup_s: float = 10.0
    """Steady delivery before the node is killed (figures of the steady state)."""
    node_down_s: float = 10.0
    """How long the killed node stays down."""
    lag_s: float = 3.0
    """A gateway is delivering when its newest received event is at most this old (at 1 event/s: 3 missed)."""
    recovery_timeout_s: float = 120.0
    """Longest wait for the fleet to be back to full delivery after a fault."""
    replay_idle_s: float = 30.0
    """The final replay gives up after this long without a replayed event or an answer."""
    kill_node: int = 1
    """Index of the node killed (0 is where the listener is connected, so it is never killed)."""
    config_apply: bool = True
    """Run the two remote config applies (commit, then a wrong broker URL that must roll back)."""
    simulate: int = 1000
    """Gateways of the `storegw fleet simulate` part against mosquitto; 0 skips it."""
    simulate_seconds: float = 60.0
    simulate_outage_s: float = 3.0
    workdir: Path | None = None
    keep: bool = False
