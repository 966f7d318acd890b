"""The fleet report: its figures, the per-gateway counts, the verdict and the block for bench/RESULTS.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.fleet.check import GatewayCount
from bench.fleet.delivery import Recovery
from bench.fleet.remote import Rollout
from bench.fleet.simulate import SimulateResult


def spans_text(spans: list[list[int]], limit: int = 5) -> str:
    """A few [first, last] spans as text."""
    text = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in spans[:limit])
    return text + (f", ... ({len(spans)} ranges)" if len(spans) > limit else "")


def quantiles(values: list[float]) -> str:
    """median / p90 / max of some values, or '-'."""
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * len(ordered)) - 1 if len(ordered) > 1 else 0)]
    return f"median {statistics.median(ordered):.2f}, p90 {p90:.2f}, max {ordered[-1]:.2f}"


@dataclass
class FleetReport:
    """Everything one run measured, and what failed."""

    gateways: int
    machine: str = ""
    code: str = ""
    nats: str = ""
    started: int = 0
    start_s: float = 0.0
    steady_per_s: float = 0.0
    steady_window_s: float = 0.0
    on_killed_node: int = 0
    node_restart_s: float | None = None
    node_loss: Recovery | None = None
    rollouts: list[Rollout] = field(default_factory=list)
    rollback_recovery: Recovery | None = None
    counts: list[GatewayCount] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    hwm_kb: list[int] = field(default_factory=list)
    exit_codes: dict[str, int] = field(default_factory=dict)
    simulate: SimulateResult | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 only when nothing failed."""
        return 1 if self.failures else 0

    def verdicts(self) -> None:
        """Turn the figures into failures (called once, at the end)."""
        bad = [c for c in self.counts if not c.ok]
        for c in bad[:10]:
            self.failures.append(f"{c.key}: last committed {c.last_seq}, missing after replay "
                                 f"{spans_text(c.missing_after)}, lost {c.lost}, drained {c.drained}")
        if len(bad) > 10:
            self.failures.append(f"... and {len(bad) - 10} more gateways with missing numbers")
        if self.node_loss and self.node_loss.back_s is None:
            self.failures.append(f"the fleet was not back to full delivery after the node loss; behind: "
                                 f"{', '.join(self.node_loss.still_behind[:10])}")
        for rollout in self.rollouts:
            if not rollout.ok:
                self.failures.append(f"config {rollout.version}: expected {rollout.expected} on {rollout.sent}, got "
                                     f"{dict(rollout.outcomes)}; refused {rollout.refused[:3]}; "
                                     f"no outcome from {rollout.no_outcome[:5]}")
        unclean = {k: v for k, v in self.exit_codes.items() if v != 0}
        if unclean:
            self.failures.append(f"daemons that did not stop cleanly on SIGTERM: {unclean}")
        if self.simulate and self.simulate.error:
            self.failures.append(f"fleet simulate: {self.simulate.error}")


def gateway_lines(report: FleetReport) -> list[str]:
    """One line per gateway: the counts the issue asks for."""
    lines = [f"{'gateway':<16} {'committed':>9} {'received':>8} {'before':>7} {'replayed':>8} {'dupl':>5} "
             f"{'never-iss':>9} {'boots':>5} {'missing':>7}"]
    for c in report.counts:
        lines.append(f"{c.key:<16} {c.last_seq:>9} {c.received:>8} {c.received_before:>7} {c.replayed:>8} "
                     f"{c.duplicates:>5} {c.never_issued:>9} {c.boots:>5} "
                     f"{sum(b - a + 1 for a, b in c.missing_after):>7}")
    return lines


def recovery_text(recovery: Recovery | None) -> str:
    """A recovery in one sentence."""
    if recovery is None:
        return "not run"
    own = [v for v in recovery.behind.values() if v is not None]
    if recovery.back_s is None:
        return f"NOT back within the timeout; {len(recovery.still_behind)} gateways still behind"
    return (f"full delivery {recovery.back_s:.1f} s after the {recovery.fault}; {len(recovery.behind)} gateways fell "
            f"behind, each back after (s): {quantiles(own)}")


def rollout_text(rollout: Rollout) -> str:
    """A rollout in one sentence."""
    reasons = "; ".join(f"{n}x \"{r}\"" for r, n in rollout.reasons.most_common(2))
    return (f"config {rollout.version} to {rollout.sent} gateways: {rollout.accepted} answered trial, "
            f"{rollout.busy} busy answers asked again, outcomes {dict(rollout.outcomes)} (expected "
            f"{rollout.expected}), last outcome {rollout.all_outcomes_s} s after the requests; trial_s "
            f"{quantiles(rollout.trial_s)}; reasons: {reasons}")


def summary(report: FleetReport, options_line: str) -> str:
    """The figures, with how each was measured, and the block for bench/RESULTS.md."""
    counts = report.counts
    committed = sum(c.last_seq for c in counts)
    received = sum(c.received for c in counts)
    before = sum(c.received_before for c in counts)
    rss = [kb / 1024 for kb in report.rss_kb if kb]
    hwm = [kb / 1024 for kb in report.hwm_kb if kb]
    sim = report.simulate
    lines = [
        "### Fleet scenario (issue 12)",
        "",
        f"Run: `{options_line}` on {report.machine}; {report.code}; {report.nats}, 3-node cluster with JetStream, "
        f"MQTT 3.1.1 listener per node on loopback. Took {report.duration_s:.0f} s.",
        "",
        f"- **Daemons**: {report.started}/{report.gateways} real `storegw run` processes started in batches in "
        f"{report.start_s:.1f} s, each with one synthetic device at the rate above and `mqtt.urls` over the three "
        "nodes (each gateway's list starts at a different node).",
        f"- **Steady delivery**: {report.steady_per_s:.1f} new events/s received by the listener over "
        f"{report.steady_window_s:.0f} s before the node loss (one MQTT 3.1.1 subscriber on node 1, QoS 1).",
        f"- **Node loss**: node 2 SIGKILLed with {report.on_killed_node} gateways connected to it; "
        f"{recovery_text(report.node_loss)}. Full delivery = every gateway's newest received event at most "
        f"the lag bound old (sampled every 0.25 s, held for the settle time). The node accepted MQTT again "
        f"{report.node_restart_s if report.node_restart_s is not None else '-'} s after its restart.",
    ]
    for rollout in report.rollouts:
        lines.append(f"- **Remote config**: {rollout_text(rollout)}.")
    if report.rollback_recovery:
        lines.append(f"- **After the bad-URL rollout**: {recovery_text(report.rollback_recovery)}.")
    lines += [
        f"- **Every sequence**: {committed} events committed by {len(counts)} gateways (their own "
        f"`outbox.last_seq` after the devices were stopped and the outboxes drained); {before} received live, "
        f"{received - before} more after `cmd/replay` of the gaps; {committed - received} missing in the end; "
        f"{sum(c.duplicates for c in counts)} duplicate deliveries (same id), "
        f"{sum(c.never_issued for c in counts)} numbers declared never issued, {sum(c.lost for c in counts)} pruned; "
        f"{sum(1 for c in counts if c.ok)}/{len(counts)} gateways complete.",
        f"- **Memory per gateway** (VmRSS from /proc every 2 s, the last sample before SIGTERM): "
        f"{quantiles(rss)} MB; VmHWM {quantiles(hwm)} MB; all daemons together {sum(rss):.0f} MB.",
    ]
    if sim is not None:
        wave = sim.wave or {}
        lines += [
            f"- **fleet simulate, {sim.gateways} gateways at {sim.rate:g} event/s against mosquitto**: "
            f"{sim.received_per_s:.0f} events/s received by a QoS 0 subscriber over {sim.steady_window_s:.0f} s of "
            f"steady load (expected {sim.gateways * sim.rate:.0f}); simulator CPU {sim.cpu_share:.2f} cores, peak "
            f"RSS {sim.peak_rss_kb / 1024:.0f} MB. Broker SIGKILLed, down {sim.outage_s:g} s: the simulator's "
            f"reconnect wave: {wave.get('lost', '-')} lost, {wave.get('back', '-')} back, first "
            f"{wave.get('first_back_s', '-')} s, last {wave.get('last_back_s', '-')} s after the first loss, "
            f"**spread {wave.get('spread_s', '-')} s**; seen from the subscriber: {sim.births_after_restart} births "
            f"from {sim.birth_first_s} to {sim.birth_last_s} s after the broker was back "
            f"({sim.births_retained} of them came as retained on our own re-subscribe).",
        ]
    lines += [f"- note: {n}" for n in report.notes]
    lines.append("")
    lines.append("Verdict: " + ("PASS" if not report.failures else "FAIL: " + "; ".join(report.failures)))
    return "\n".join(lines)
