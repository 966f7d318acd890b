"""The fleet scenario of issue 12: a three-node NATS cluster, a hundred real daemons, a node loss, remote configs.

Run:

    .venv/bin/python -m bench.fleet.run --gateways 100                 # the full scenario, then fleet simulate
    .venv/bin/python bench/fleet/run.py --gateways 10 --simulate 0     # a quick one, run as a script

A three-node nats-server cluster (JetStream, MQTT 3.1.1 listener on each node, loopback ports) and a
listener (one MQTT 3.1.1 subscriber, gateway/consumer.py's bookkeeping) start first; then the daemons,
in batches, each with one synthetic device and a failover list over the three nodes. Once the whole
fleet delivers: a steady window, node 2 SIGKILLed (the time back to full delivery is measured) and
started again, a remote config rolled out to every gateway that must commit, then one whose only
broker URL is wrong and must roll back by itself. At the end the devices stop, the outboxes drain,
every gap is asked for with cmd/replay, and every gateway's sequence 1..last committed is checked.
Then `storegw fleet simulate --gateways 1000` against a mosquitto of our own: events/s and the
reconnect spread after a broker restart. Exit 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.chaos.common import run_harness
from bench.chaos.report import code_line, machine_line
from bench.fleet.check import final_check
from bench.fleet.cluster import Cluster, nats_version
from bench.fleet.delivery import DeliveryWatch
from bench.fleet.gateways import PREFIX, Fleet
from bench.fleet.listener import Listener
from bench.fleet.options import FleetOptions
from bench.fleet.remote import committed_change, dead_broker_change, roll_out, running_new_config
from bench.fleet.report import FleetReport, gateway_lines, recovery_text, rollout_text, summary
from bench.fleet.simulate import run_simulate

__all__ = ["FleetOptions", "FleetReport", "main", "parse_args", "run_fleet"]


def unique_received(listener: Listener) -> int:
    """Distinct events received from the whole fleet so far."""
    with listener.lock:
        return sum(len(stream.check.seen_ids) for stream in listener.streams.values())


def scenario(options: FleetOptions, report: FleetReport, workdir: Path, out: Callable[[str], None]) -> None:
    """The NATS part: cluster, daemons, node loss, rollouts, final check (everything torn down on return)."""
    settings: dict[str, Any] = {"rate": options.rate, "startup_delay_max_s": options.startup_delay_max_s,
                                "commit_after_s": options.commit_after_s}
    settle = 2 * options.lag_s
    cluster = Cluster.start(3)
    listener: Listener | None = None
    fleet: Fleet | None = None
    watch: DeliveryWatch | None = None
    try:
        out(f"cluster: 3 nodes up, MQTT on {', '.join(cluster.urls)}")
        listener = Listener(cluster.urls[0], PREFIX)
        fleet = Fleet(workdir)
        fleet.write(options.gateways, cluster.failover_list, **settings)
        report.start_s = fleet.start(options.batch, out)
        report.started = len(fleet.alive())
        watch = DeliveryWatch(listener, [g.key for g in fleet.gateways], options.lag_s).start()
        full = watch.wait_full(time.time(), settle, options.recovery_timeout_s + options.startup_delay_max_s)
        if full is None:
            report.failures.append("the fleet never reached full delivery after its start")
            return
        out(f"fleet: every gateway delivering ({report.started} daemons)")
        n0, t0 = unique_received(listener), time.monotonic()
        time.sleep(options.warmup_s)
        report.steady_window_s = time.monotonic() - t0
        report.steady_per_s = (unique_received(listener) - n0) / report.steady_window_s
        out(f"steady: {report.steady_per_s:.1f} events/s over {report.steady_window_s:.0f} s")
        victim = cluster.nodes[options.kill_node]
        brokers = [(s or {}).get("mqtt", {}).get("broker") for s in fleet.statuses().values()]
        report.on_killed_node = sum(1 for b in brokers if b == f"127.0.0.1:{victim.mqtt_port}")
        cluster.kill(options.kill_node)
        assert cluster.killed_at is not None
        out(f"node loss: node {options.kill_node + 1} SIGKILLed with {report.on_killed_node} gateways on it")
        report.node_loss = watch.recovery("node SIGKILL", cluster.killed_at, settle, options.recovery_timeout_s)
        out(f"node loss: {recovery_text(report.node_loss)}")
        time.sleep(max(0.0, cluster.killed_at + options.node_down_s - time.time()))
        report.node_restart_s = round(cluster.restart(options.kill_node), 2)
        out(f"node loss: node {options.kill_node + 1} back, accepting MQTT after {report.node_restart_s} s")
        if options.config_apply:
            wait = options.commit_after_s + 90
            good = roll_out(listener, fleet.gateways, "fleet-commit-1", "committed", committed_change, wait)
            report.rollouts.append(good)
            out(f"remote: {rollout_text(good)}")
            deadline = time.monotonic() + 15
            while running_new_config(listener, fleet.gateways) < len(fleet.gateways) and time.monotonic() < deadline:
                time.sleep(0.5)
            report.notes.append(f"{running_new_config(listener, fleet.gateways)}/{len(fleet.gateways)} gateways' "
                                "newest synthetic events carry the committed config's 80-byte payload")
            bad = roll_out(listener, fleet.gateways, "fleet-bad-url-1", "rolled_back", dead_broker_change, wait)
            report.rollouts.append(bad)
            out(f"remote: {rollout_text(bad)}")
            report.rollback_recovery = watch.recovery("bad-URL rollout", bad.sent_at, settle,
                                                      options.recovery_timeout_s)
            out(f"remote: {recovery_text(report.rollback_recovery)}")
        watch.stop()
        report.counts = final_check(fleet, listener, settings, options.replay_idle_s, out)
        for gateway in fleet.gateways:
            gateway.sample()
        report.rss_kb = [g.rss_kb for g in fleet.gateways]
        report.hwm_kb = [g.hwm_kb for g in fleet.gateways]
        report.exit_codes = fleet.stop()
    finally:
        if watch is not None:
            watch.stop()
        if fleet is not None:
            for gateway in fleet.alive():
                assert gateway.daemon
                gateway.daemon.kill()
        if listener is not None:
            listener.close()
        cluster.remove()


def run_fleet(options: FleetOptions, out: Callable[[str], None] = print) -> FleetReport:
    """One run: the NATS scenario, then the fleet-simulate part; the report (printed too)."""
    began = time.monotonic()
    report = FleetReport(options.gateways, machine=machine_line(), code=code_line(), nats=nats_version())
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="storegw-fleet-"))
    out(f"fleet: {options.gateways} daemons at {options.rate:g} event/s, workdir {workdir}")
    try:
        scenario(options, report, workdir, out)
    except Exception as exc:  # the report must still say what was measured and why it stopped
        report.failures.append(f"the scenario stopped: {type(exc).__name__}: {exc}")
    if options.simulate:
        try:
            report.simulate = run_simulate(options.simulate, options.rate, options.simulate_seconds,
                                           options.simulate_outage_s, out)
        except Exception as exc:
            report.failures.append(f"fleet simulate stopped: {type(exc).__name__}: {exc}")
    report.duration_s = time.monotonic() - began
    report.verdicts()
    for line in gateway_lines(report):
        out(line)
    out(summary(report, options_line(options)))
    if options.keep or report.failures:
        out(f"fleet: workdir kept: {workdir} (gw-NNNN/storegw.toml, storegw.log, data/)")
    elif options.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def options_line(options: FleetOptions) -> str:
    """The command that repeats this run."""
    return (f".venv/bin/python -m bench.fleet.run --gateways {options.gateways} --rate {options.rate:g} "
            f"--startup-delay {options.startup_delay_max_s:g} --commit-after {options.commit_after_s:g} "
            f"--simulate {options.simulate}")


def parse_args(argv: Sequence[str] | None = None) -> FleetOptions:
    """Command-line options."""
    assert __doc__
    parser = argparse.ArgumentParser(prog="bench.fleet.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=100, help="real daemons (default 100)")
    parser.add_argument("--rate", type=float, default=1.0, help="synthetic events/s per gateway (default 1)")
    parser.add_argument("--batch", type=int, default=10, help="daemons started at once (default 10)")
    parser.add_argument("--startup-delay", type=float, default=5.0,
                        help="mqtt.startup_delay_max_s of every daemon (default 5)")
    parser.add_argument("--commit-after", type=float, default=10.0, help="[remote] commit_after_s (default 10)")
    parser.add_argument("--warmup", type=float, default=10.0, help="steady seconds before the node loss")
    parser.add_argument("--node-down", type=float, default=10.0, help="seconds the killed node stays down")
    parser.add_argument("--no-config-apply", dest="config_apply", action="store_false")
    parser.add_argument("--simulate", type=int, default=1000, metavar="N",
                        help="gateways of the fleet-simulate part against mosquitto (0: skip; default 1000)")
    parser.add_argument("--simulate-seconds", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the workdir (kept anyway on failure)")
    args = parser.parse_args(argv)
    if args.gateways < 1 or args.batch < 1:
        parser.error("--gateways and --batch must be at least 1")
    return FleetOptions(gateways=args.gateways, rate=args.rate, batch=args.batch,
                        startup_delay_max_s=args.startup_delay, commit_after_s=args.commit_after,
                        warmup_s=args.warmup, node_down_s=args.node_down, config_apply=args.config_apply,
                        simulate=args.simulate, simulate_seconds=args.simulate_seconds, workdir=args.workdir,
                        keep=args.keep)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print, exit 0 or 1."""
    options = parse_args(argv)
    return run_harness("fleet", lambda out: run_fleet(options, out=out))


if __name__ == "__main__":
    sys.exit(main())
