"""The three-node NATS cluster (JetStream, MQTT 3.1.1 listener on each node): start, kill a node, bring it back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.chaos.common import ROOT  # noqa: F401  (puts the repository on sys.path for tests.support)
from tests.support.nats import NatsServer, nats_binary, nats_cluster


def nats_version() -> str:
    """`nats-server --version`, for the report."""
    from bench.chaos.common import run_cmd

    binary = nats_binary()
    return run_cmd([binary, "--version"], timeout=5).stdout.strip() if binary else "nats-server missing"


@dataclass
class Cluster:
    """The nodes, and when each was killed and accepted MQTT again."""

    nodes: list[NatsServer] = field(default_factory=list)
    killed_at: float | None = None
    """time.time() of the SIGKILL."""
    back_at: float | None = None
    """time.time() when the restarted node accepted an MQTT CONNECT again."""

    @classmethod
    def start(cls, size: int = 3) -> Cluster:
        """Every node started, routed to the others, each accepting an MQTT 3.1.1 CONNECT.

        The MQTT streams get one replica per node (mqtt.stream_replicas): left to itself nats-server 2.9
        may make them R2, and then one node lost stalls sessions and QoS 1 delivery on the others too.
        """
        name = f"storegw-fleet-{int(time.time()) % 100000}"
        return cls(nats_cluster(size, name=name, mqtt_replicas=size))

    @property
    def urls(self) -> list[str]:
        """The MQTT URL of every node, in order."""
        return [node.url for node in self.nodes]

    def failover_list(self, index: int) -> list[str]:
        """Gateway ``index``'s mqtt.urls: every node, starting at a different one so the fleet spreads evenly."""
        first = index % len(self.nodes)
        return self.urls[first:] + self.urls[:first]

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (a crash: no goodbye to its MQTT clients or its routes)."""
        self.killed_at = time.time()
        self.nodes[index].stop()

    def restart(self, index: int, timeout: float = 60.0) -> float:
        """Start node ``index`` again on its ports with its JetStream store; seconds until it accepts MQTT."""
        began = time.monotonic()
        node = self.nodes[index]
        node.start()
        node.wait_ready(timeout)
        self.back_at = time.time()
        return time.monotonic() - began

    def remove(self) -> None:
        """Stop every node and delete its store."""
        for node in self.nodes:
            node.remove()
