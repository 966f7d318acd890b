"""The fleet scenario, short: a three-node NATS cluster, three real daemons, a node killed, two remote configs.

The same harness as the full scenario (`.venv/bin/python -m bench.fleet.run --gateways 100`, bench/fleet/):
a 3-node nats-server cluster (JetStream, MQTT 3.1.1), three `storegw run` processes with a synthetic
device at 1 event/s and a failover list over the nodes, and one MQTT 3.1.1 listener keeping
gateway/consumer.py's books. Node 2 is SIGKILLed and started again; a remote config that must commit
is applied to every gateway, then one whose only broker URL is wrong and must roll back by itself.
At the end every sequence from 1 to each gateway's last committed one must have been received
(after cmd/replay of the gaps).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fleet.run import FleetOptions, run_fleet
from tests.support.nats import nats_binary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_three_gateways_survive_a_node_loss_and_two_remote_configs(tmp_path: Path) -> None:
    if nats_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    options = FleetOptions(gateways=3, batch=3, startup_delay_max_s=1.0, commit_after_s=3.0, warmup_s=2.0,
                           node_down_s=3.0, lag_s=2.0, recovery_timeout_s=30.0, replay_idle_s=10.0, simulate=0,
                           workdir=tmp_path / "fleet")
    lines: list[str] = []

    def out(text: str) -> None:
        """Keep the report for the assertion messages, and show it with -s."""
        lines.append(text)
        print(text, flush=True)

    report = run_fleet(options, out=out)
    text = "\n".join(lines)
    assert report.started == 3, text
    assert report.node_loss is not None and report.node_loss.back_s is not None, text
    assert report.on_killed_node >= 1, text  # one gateway's list starts at node 2
    assert [(r.version, dict(r.outcomes)) for r in report.rollouts] == [
        ("fleet-commit-1", {"committed": 3}), ("fleet-bad-url-1", {"rolled_back": 3})], text
    assert all("broker link is not up" in reason for reason in report.rollouts[1].reasons), text
    assert len(report.counts) == 3 and all(c.last_seq > 0 for c in report.counts), text
    missing = {c.key: c.missing_after for c in report.counts if c.missing_after}
    assert missing == {}, f"committed sequences never received, even after replay: {missing}\n{text}"
    assert sum(c.received for c in report.counts) == sum(c.last_seq - c.never_issued for c in report.counts), text
    assert all(kb > 0 for kb in report.rss_kb), text
    assert report.exit_codes == {c.key: 0 for c in report.counts}, text
    assert report.failures == [], text
