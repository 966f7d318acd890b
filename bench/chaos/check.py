"""The final check: drain the daemon, take the committed range, replay every gap, and reach the verdict."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.chaos.common import now, run_cmd
from bench.chaos.daemon import daemon_env
from bench.chaos.faults import clear_all
from bench.chaos.lab import Lab
from bench.chaos.measure import good_intervals, longest_stall, synthetic_gaps
from bench.chaos.options import ChaosOptions
from bench.chaos.record import RoundRecord
from bench.chaos.replay import ReplayOutcome, replay_missing
from bench.chaos.report import ChaosReport, show_ranges
from bench.chaos.spans import count_ranges, gaps_in, merge_ranges, parse_spans, subtract_ranges

DRAIN_TIMEOUT_S = 180.0
MAX_REPLAY_NUMBERS = 2_000_000
"""More missing numbers than this are reported, not replayed (the harness tracks each one)."""
SETTLE_IDLE_S = 3.0


def outbox_stats(lab: Lab) -> tuple[dict[str, Any], str | None]:
    """`storegw outbox stats --config FILE --json`; falls back to reading the file when the command fails."""
    done = run_cmd([sys.executable, "-m", "gateway.cli.main", "outbox", "stats", "--config", str(lab.config_path),
                    "--json"], timeout=60, cwd=lab.daemon_root, env=daemon_env(lab.daemon_root))
    if done.returncode == 0:
        with contextlib.suppress(ValueError):
            value = json.loads(done.stdout)
            if isinstance(value, dict):
                return value, None
    note = f"`storegw outbox stats --json` failed ({done.returncode}: {done.stderr.strip()[-200:]}); read the file"
    try:
        db = sqlite3.connect(f"file:{lab.data_dir / 'outbox.db'}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
            pending = db.execute("SELECT count(*) FROM events WHERE acked_at IS NULL").fetchone()[0]
        finally:
            db.close()
        return {"last_seq": int(row[0]) if row else 0, "pending": int(pending)}, note
    except sqlite3.Error as exc:
        return {}, f"{note}; reading it failed too ({exc})"


def declared_never_issued(lab: Lab, stats: dict[str, Any]) -> tuple[list[tuple[int, int]], dict[str, int], int]:
    """Numbers the gateway says it never issued: sidecar, stats and sequence-gap events. Also seq_reserved."""
    found: dict[str, list[tuple[int, int]]] = {}
    reserved = 0
    sidecar: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        value = json.loads((lab.data_dir / "outbox.db.state.json").read_text())
        sidecar = value if isinstance(value, dict) else {}
    with contextlib.suppress(TypeError, ValueError):
        reserved = int(sidecar.get("seq_reserved") or 0)
    for source, table in (("sidecar", sidecar), ("outbox stats", stats)):
        for key, value in table.items():
            if any(word in key.lower() for word in ("never", "skip", "gap")):
                found.setdefault(source, []).extend(parse_spans(value))
    assert lab.consumer
    for event in list(lab.consumer.gap_events):
        data = event.get("data")
        spans = parse_spans(data)
        if isinstance(data, dict):
            for key, value in data.items():
                if any(word in key.lower() for word in ("never", "skip", "gap", "range")):
                    spans.extend(parse_spans(value))
        found.setdefault("gap events", []).extend(spans)
    merged = merge_ranges(itertools.chain.from_iterable(found.values()))
    return merged, {k: count_ranges(merge_ranges(v)) for k, v in found.items()}, reserved


def drain(lab: Lab, record: RoundRecord, out: Callable[[str], None]) -> None:
    """Stop faults, SIGTERM the daemon, start it without the synthetic load and wait until nothing is pending."""
    assert lab.gateway and lab.config and lab.consumer
    clear_all(lab)
    started = now()
    rc = lab.gateway.terminate(30)
    stop_s = now() - started
    if rc is None and lab.gateway.process is not None:
        record.problem("the daemon did not end within 30 s of SIGTERM; killed")
    elif rc not in (0, None):
        record.problem(f"the daemon exited with rc {rc} on SIGTERM: {lab.gateway.log_tail(2)}")
    out(f"  drain: SIGTERM took {stop_s:.1f} s (rc {rc}); starting again without the synthetic load")
    lab.write_config(replace(lab.config, synthetic=False))
    lab.gateway.start()
    deadline = now() + DRAIN_TIMEOUT_S
    best = None
    last_progress = now()
    drained = False
    while now() < deadline:
        if not lab.check_alive(record, "while draining"):
            time.sleep(1.0)
            continue
        status = lab.gateway.status() or {}
        outbox = status.get("outbox") or {}
        pending, queued = outbox.get("pending"), outbox.get("queued_in_ram")
        if pending == 0 and queued in (0, None) and (status.get("mqtt") or {}).get("connected"):
            drained = True
            break
        if isinstance(pending, int) and (best is None or pending < best):
            best, last_progress = pending, now()
        if now() - last_progress > 60:
            break
        time.sleep(0.5)
    if not drained:
        record.problem(f"the outbox did not drain ({lab.diagnose()})")
    out(f"  drain: {'done' if drained else 'NOT done'} after {now() - started:.1f} s")


def settle(lab: Lab, last_seq: int, committed: int) -> None:
    """Wait until the consumer has all ``committed`` events, or nothing below last_seq arrived for a few seconds."""
    assert lab.consumer
    deadline = now() + 30
    marker, since = -1, now()
    while now() < deadline:
        received = lab.consumer.received()
        have = sum(1 for s in received if s <= last_seq)
        if have >= committed:
            return
        if have != marker:
            marker, since = have, now()
        if now() - since > SETTLE_IDLE_S:
            return
        time.sleep(0.3)


def finish(lab: Lab, report: ChaosReport, final: RoundRecord, options: ChaosOptions,
           out: Callable[[str], None]) -> None:
    """The committed range, the replay of every gap, and the verdict."""
    assert lab.consumer and lab.gateway
    stats, note = outbox_stats(lab)
    if note:
        final.note(note)
    report.outbox_stats = stats
    report.last_seq = int(stats.get("last_seq") or 0)
    never, sources, reserved = declared_never_issued(lab, stats)
    whole = [(1, report.last_seq)] if report.last_seq > 0 else []
    committed = subtract_ranges(whole, never)
    settle(lab, report.last_seq, count_ranges(committed))
    consumer = lab.consumer
    received = sorted(consumer.received())
    report.missing_before = gaps_in(committed, received)
    missing_count = count_ranges(report.missing_before)
    dup_before = consumer.duplicates
    out(f"  final: last_seq {report.last_seq:,} (pending {stats.get('pending')}), "
        f"{count_ranges(committed) - missing_count:,} of the committed received, {missing_count:,} missing in "
        f"{len(report.missing_before)} ranges; replaying them (chunks of <= {options.replay_chunk:,})")
    if missing_count > MAX_REPLAY_NUMBERS:
        outcome = ReplayOutcome(gave_up=f"{missing_count:,} missing numbers are more than this harness replays "
                                        f"({MAX_REPLAY_NUMBERS:,})")
    else:
        outcome = replay_missing(consumer, report.missing_before, chunk=options.replay_chunk)
    report.replay = outcome
    out(f"  final: replay {outcome.requests} requests, {outcome.answered} answered, {len(outcome.refused)} refused, "
        f"{outcome.seconds:.1f} s" + (f", gave up: {outcome.gave_up}" if outcome.gave_up else ""))
    if outcome.never_issued:
        sources["replay answers"] = count_ranges(outcome.never_issued)
        never = merge_ranges([*never, *outcome.never_issued])
    report.never_issued = subtract_ranges(never, [(report.last_seq + 1, 2**63)])  # only what was due by last_seq
    committed = subtract_ranges(whole, never)
    received = sorted(consumer.received())
    report.committed = count_ranges(committed)
    report.received = len(received)
    report.deliveries = consumer.deliveries
    report.duplicates = consumer.duplicates
    report.missing_after = gaps_in(committed, received)
    report.declared_gone = [r for r in outcome.gone if r[0] <= report.last_seq]
    with consumer.lock:
        report.reused = {seq: sorted(ids) for seq, ids in consumer.reused.items()}
        report.id_on_two_seqs = {i: sorted(s) for i, s in consumer.id_two_seqs.items()}
        synthetic = dict(consumer.synthetic)
    report.lost_before_commit, places = synthetic_gaps(synthetic, set(received))
    with lab._lock:
        intervals = good_intervals(list(lab.samples))
    arrivals = consumer.arrival_times()
    stall, at = longest_stall(intervals, arrivals)
    report.longest_stall_s = stall
    report.measured_s = sum(b - a for a, b in intervals)
    report.longest_stall_round = next((r.number for r in report.rounds if r.started <= at <= r.ended), 0)
    report.rounds.append(final)
    for record in report.rounds:
        report.liveness += [f"round {record.number} ({record.fault}): {p}" if record.number else f"final: {p}"
                            for p in record.problems]
    if report.missing_after:
        gone = count_ranges(report.declared_gone)
        report.failures.append(
            f"{count_ranges(report.missing_after):,} committed sequence numbers never delivered, even after the "
            f"replay: {show_ranges(report.missing_after)}"
            + (f"; the gateway's answers call {gone:,} of them missing (pruned or dropped after their commit)"
               if gone else "")
            + (f"; replay gave up: {outcome.gave_up}" if outcome.gave_up else ""))
    if report.reused:
        sample = ", ".join(f"{seq}: {ids}" for seq, ids in itertools.islice(report.reused.items(), 3))
        report.failures.append(f"{len(report.reused)} sequence numbers reused with different ids ({sample})")
    if report.id_on_two_seqs:
        report.failures.append(f"{len(report.id_on_two_seqs)} event ids seen with two sequence numbers")
    if report.last_seq == 0:
        report.failures.append("nothing was committed")
    if options.strict and report.liveness:
        report.failures.append(f"{len(report.liveness)} liveness findings (--strict)")
    report.exit_code = 1 if report.failures else 0
    final.note(f"duplicates before the final replay {dup_before:,}; seq_reserved in the sidecar {reserved:,}; "
               f"synthetic readings lost before their commit {report.lost_before_commit:,} in {places} places")
