"""storegw's chaos suite: randomised faults against a real daemon and a real mosquitto, then the sequence check.

Run (root for the tmpfs and the namespaces; without root those faults are skipped, saying why):

    .venv/bin/python -m bench.chaos.run --rounds 24 --seed 1
    .venv/bin/python bench/chaos/run.py --rounds 4 --seed 7 --rate 100 --net proxy --no-tmpfs

Each round lets the load run a moment, injects one fault (or a combination), clears it and
waits, bounded, for live events to flow again; a daemon that neither delivers nor exits is
diagnosed, killed and restarted by the lab's watchdog and reported. At the end the faults stop,
the daemon is stopped with SIGTERM and started again without the synthetic load so it drains,
`storegw outbox stats --json` gives the committed range, every gap is asked for with
`cmd/replay` in chunks, and the report says what was committed, received, missing, duplicated
and reused. Exit 0 only when every committed sequence was delivered (or declared never issued
by the gateway) and no sequence came with two ids; `--strict` also fails on liveness findings.
"""

from __future__ import annotations

import argparse
import atexit
import bisect
import contextlib
import datetime
import itertools
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.chaos.consumer import (
    ReplayOutcome,
    count_ranges,
    gaps_in,
    merge_ranges,
    parse_spans,
    replay_missing,
    subtract_ranges,
)
from bench.chaos.faults import (
    FAULTS,
    ROOT,
    Lab,
    RoundRecord,
    clear_all,
    daemon_env,
    now,
    run_cmd,
)

WEIGHTS = {"gateway-kill": 3, "broker-kill": 3, "blackhole": 2, "reset": 2, "partition": 2, "disk-full": 1,
           "reload": 2, "reload-invalid": 2, "replay-storm": 1, "storm+reload": 1, "broker+gateway-kill": 1,
           "cut+gateway-kill": 1}
"""How often each fault comes up after every available one has had its round."""
SUBSTITUTES = {"partition": "blackhole", "disk-full": "reset"}
"""What runs instead of a fault the lab cannot inject (the report says so)."""
DRAIN_TIMEOUT_S = 180.0
MAX_REPLAY_NUMBERS = 2_000_000
"""More missing numbers than this are reported, not replayed (the harness tracks each one)."""
SETTLE_IDLE_S = 3.0


@dataclass
class ChaosOptions:
    """What one chaos run does."""

    rounds: int = 24
    seed: int | None = None
    rate: float = 300.0
    net: str = "auto"
    """auto (namespaces when root, else the proxy alone), netns, or proxy."""
    tmpfs: bool = True
    faults: list[str] | None = None
    """Draw only from these fault kinds."""
    schedule: list[str] | None = None
    """Exactly these faults, in this order (repeated to fill the rounds)."""
    steady: tuple[float, float] = (1.5, 3.0)
    """Seconds of plain load before each fault (uniform in this range)."""
    workdir: Path | None = None
    keep: bool = False
    strict: bool = False
    sabotage: str | None = None
    max_seconds: float | None = None
    replay_chunk: int = 20_000
    daemon_root: Path = ROOT
    """The tree whose `gateway` package the daemon runs (default: this repository)."""


@dataclass
class ChaosReport:
    """The figures of one run and its verdict."""

    seed: int
    rate: float
    net_mode: str = ""
    tmpfs: bool = False
    rounds: list[RoundRecord] = field(default_factory=list)
    last_seq: int = 0
    committed: int = 0
    received: int = 0
    deliveries: int = 0
    duplicates: int = 0
    missing_before: list[tuple[int, int]] = field(default_factory=list)
    missing_after: list[tuple[int, int]] = field(default_factory=list)
    declared_gone: list[tuple[int, int]] = field(default_factory=list)
    never_issued: list[tuple[int, int]] = field(default_factory=list)
    never_issued_sources: dict[str, int] = field(default_factory=dict)
    reused: dict[int, list[str]] = field(default_factory=dict)
    id_on_two_seqs: dict[str, list[int]] = field(default_factory=dict)
    longest_stall_s: float = 0.0
    measured_s: float = 0.0
    """Seconds the daemon was up, said it was connected and no fault was active (where stalls count)."""
    longest_stall_round: int = 0
    peak_hwm_kb: int = 0
    peak_rss_kb: int = 0
    lost_before_commit: int = 0
    replay: ReplayOutcome | None = None
    outbox_stats: dict[str, Any] = field(default_factory=dict)
    liveness: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    rounds_s: float = 0.0
    figure_block: str = ""
    exit_code: int = 1


# ---- the plan ------------------------------------------------------------------------------
def make_schedule(seed: int, rounds: int, available: Sequence[str], pool: Sequence[str] | None = None,
                  exact: Sequence[str] | None = None) -> list[str]:
    """The faults of each round: every available kind once (shuffled), then weighted draws; or ``exact``."""
    if exact:
        return [exact[i % len(exact)] for i in range(rounds)]
    kinds = [k for k in (pool or FAULTS) if k in available]
    if not kinds:
        raise ValueError("no fault kind is available")
    rng = random.Random(seed)
    first = kinds[:]
    rng.shuffle(first)
    schedule = first[:rounds]
    if rounds > len(schedule):
        schedule += rng.choices(kinds, weights=[WEIGHTS.get(k, 1) for k in kinds], k=rounds - len(schedule))
    return schedule


def resolve(fault: str, skipped: dict[str, str]) -> tuple[str, str | None]:
    """The fault to run for ``fault`` and, when it is substituted, why."""
    need = FAULTS[fault][1]
    if need is not None and need in skipped:
        return SUBSTITUTES[need], f"{fault} skipped ({skipped[need]}); {SUBSTITUTES[need]} instead"
    return fault, None


# ---- measurements ----------------------------------------------------------------------------
def good_intervals(samples: Sequence[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Stretches where consecutive samples both saw the daemon up, connected and fault-free."""
    out: list[tuple[float, float]] = []
    for (t0, g0), (t1, g1) in itertools.pairwise(samples):
        if g0 and g1:
            if out and out[-1][1] == t0:
                out[-1] = (out[-1][0], t1)
            else:
                out.append((t0, t1))
    return out


def longest_stall(intervals: Sequence[tuple[float, float]], arrivals: Sequence[float],
                  low: float = float("-inf"), high: float = float("inf")) -> tuple[float, float]:
    """(longest time without a new event inside the intervals, clipped to low..high; when it began)."""
    best, at = 0.0, 0.0
    for a, b in intervals:
        a, b = max(a, low), min(b, high)
        if b <= a:
            continue
        prev = a
        i = bisect.bisect_right(arrivals, a)
        while i < len(arrivals) and arrivals[i] < b:
            if arrivals[i] - prev > best:
                best, at = arrivals[i] - prev, prev
            prev = arrivals[i]
            i += 1
        if b - prev > best:
            best, at = b - prev, prev
    return best, at


def synthetic_gaps(synthetic: dict[int, tuple[int, int]], received: set[int]) -> tuple[int, int]:
    """(readings lost before their commit, places): jumps in data.n between consecutive synthetic events."""
    lost = places = 0
    previous: tuple[int, int, int] | None = None
    for seq in sorted(synthetic):
        boot, n = synthetic[seq]
        if previous is not None:
            pseq, pboot, pn = previous
            contiguous = all(s in received for s in range(pseq + 1, seq)) if seq - pseq < 10_000 else False
            if boot == pboot and n > pn + 1 and contiguous:
                lost += n - pn - 1
                places += 1
        previous = (seq, boot, n)
    return lost, places


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


def machine_line() -> str:
    """CPU, cores, memory, kernel, Python, SQLite and mosquitto versions."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB"
    mosquitto = run_cmd([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"], timeout=5)
    version = next((line.strip() for line in (mosquitto.stdout + mosquitto.stderr).splitlines()
                    if "version" in line), "mosquitto ?")
    return (f"{os.cpu_count()} cores ({cpu}){memory}, Linux {platform.release()}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {version}, load average {os.getloadavg()[0]:.2f} at start "
            "(a machine shared with other jobs)")


def code_line() -> str:
    """The commit under test, and whether the daemon's code has uncommitted changes."""
    head = run_cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], timeout=10).stdout.strip() or "?"
    dirty = run_cmd(["git", "-C", str(ROOT), "status", "--porcelain", "--", "gateway", "drivers"], timeout=10)
    return f"commit {head}" + (" with uncommitted changes in gateway/ or drivers/" if dirty.stdout.strip() else "")


def mb(kb: int) -> str:
    """kB as MB with one decimal."""
    return f"{kb / 1024:.1f} MB"


def show_ranges(spans: Sequence[tuple[int, int]], limit: int = 8) -> str:
    """A few ranges as text."""
    text = ", ".join(f"{lo}" if lo == hi else f"{lo}..{hi}" for lo, hi in spans[:limit])
    return text + (f", ... ({len(spans)} ranges)" if len(spans) > limit else "")


# ---- the run ---------------------------------------------------------------------------------
def round_line(record: RoundRecord, total: int) -> str:
    """One line per round (plus its notes and findings)."""
    head = (f"  round {record.number:>2}/{total}  {record.fault:<20} {record.ended - record.started:6.1f} s  "
            f"{record.new_events:>7,} new events  stall {record.stall_s:5.1f} s  rss {mb(record.peak_rss_kb):>8}  "
            f"{record.detail}")
    lines = [head] + [f"      - {note}" for note in record.notes]
    lines += [f"      !! {problem}" for problem in record.problems]
    return "\n".join(lines)


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


def run_chaos(options: ChaosOptions, out: Callable[[str], None] = print) -> ChaosReport:
    """One chaos run: the lab, the rounds, the drain, the final replay and the report."""
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    report = ChaosReport(seed=seed, rate=options.rate)
    began = now()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="storegw-chaos-"))
    out(f"chaos: seed {seed}, {options.rounds} rounds, synthetic {options.rate:g} events/s, workdir {workdir}")
    out(f"chaos: repeat with: .venv/bin/python -m bench.chaos.run --seed {seed} --rounds {options.rounds} "
        f"--rate {options.rate:g}" + (f" --net {options.net}" if options.net != "auto" else "")
        + ("" if options.tmpfs else " --no-tmpfs")
        + (f" --schedule {','.join(options.schedule)}" if options.schedule else "")
        + (f" --faults {','.join(options.faults)}" if options.faults else "")
        + (f" --daemon-root {options.daemon_root}" if options.daemon_root != ROOT else ""))
    lab = Lab(workdir, rate=options.rate, net=options.net, tmpfs=options.tmpfs, sabotage=options.sabotage,
              daemon_root=options.daemon_root)
    atexit.register(lab.cleanup)
    machine = machine_line()
    code = code_line() if options.daemon_root == ROOT else f"the tree in {options.daemon_root}"
    try:
        try:
            lab.setup()
        except Exception as exc:
            report.failures.append(f"the lab could not start: {exc}")
            out(f"chaos: FAILED to start: {exc}; workdir kept: {workdir}")
            return report
        report.net_mode, report.tmpfs, report.skipped = lab.net_mode, lab.tmpfs is not None, dict(lab.skipped)
        out(f"chaos: network {lab.net_mode}" + (" (daemon in its own namespace, veth pair, proxy listening in a "
                                                "second namespace)" if lab.net_mode == "netns" else
                                                " (asyncio proxy on loopback)")
            + f"; data_dir {'on a tmpfs' if lab.tmpfs else 'on the normal disk'}; broker 127.0.0.1:"
            f"{lab.broker.port if lab.broker else '?'}")
        for name, reason in lab.skipped.items():
            out(f"chaos: {name} faults skipped: {reason}")
        available = [k for k, (_, need) in FAULTS.items() if need is None or need not in lab.skipped]
        schedule = make_schedule(seed, options.rounds, available if not options.schedule else list(FAULTS),
                                 options.faults, options.schedule)
        out(f"chaos: schedule: {', '.join(schedule)}")
        budget = options.max_seconds or (options.rounds * 90 + 300)
        rounds_began = now()
        for index, wanted in enumerate(schedule):
            if now() - began > budget:
                report.liveness.append(f"time budget of {budget:g} s used up after {index} rounds; stopped early")
                out(f"chaos: time budget of {budget:g} s used up; no more rounds")
                break
            fault, why = resolve(wanted, lab.skipped)
            rng = random.Random(seed * 1000 + index)
            record = RoundRecord(index + 1, fault)
            if why:
                record.note(why)
            lab.round = record
            assert lab.consumer
            count0 = lab.consumer.new_count()
            record.started = now()
            try:
                lab.steady(rng.uniform(*options.steady), record)
                FAULTS[fault][0](lab, rng, record)
            except Exception as exc:  # a harness error in one round must not lose the run
                record.problem(f"the round failed in the harness: {type(exc).__name__}: {exc}")
                clear_all(lab)
            record.ended = now()
            record.new_events = lab.consumer.new_count() - count0
            with lab._lock:
                intervals = good_intervals(list(lab.samples))
            record.stall_s = longest_stall(intervals, lab.consumer.arrival_times(), record.started, record.ended)[0]
            report.rounds.append(record)
            out(round_line(record, len(schedule)))
        report.rounds_s = now() - rounds_began
        final = RoundRecord(0, "final")
        lab.round = final
        drain(lab, final, out)
        finish(lab, report, final, options, out)
    finally:
        lab.round = None
        if lab.gateway is not None:
            report.peak_hwm_kb = lab.gateway.peak_hwm_kb
            report.peak_rss_kb = lab.gateway.peak_rss_kb
        keep = options.keep or bool(report.failures)
        if keep and lab.tmpfs is not None:
            copy = workdir / "data-copy"
            with contextlib.suppress(OSError):
                if lab.gateway is not None:
                    lab.gateway.terminate(15)
                shutil.copytree(lab.data_dir, copy, ignore=shutil.ignore_patterns("*.sock"))
        lab.cleanup()
        report.duration_s = now() - began
    report.figure_block = figure_block(report, options, machine, code, schedule_counts(report))
    out(summary(report))
    out(report.figure_block)
    if keep:
        out(f"chaos: workdir kept: {workdir} (gateway.log, storegw.toml, mosquitto/, data-copy/)")
    elif options.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


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


def schedule_counts(report: ChaosReport) -> str:
    """How many rounds of each fault ran."""
    counts = Counter(r.fault for r in report.rounds if r.number)
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def summary(report: ChaosReport) -> str:
    """The verdict and every figure, plain text."""
    lines = ["", "==== chaos result " + "=" * 60]
    played = len([r for r in report.rounds if r.number])
    lines.append(f"seed {report.seed}; {played} rounds in {report.rounds_s:.0f} s; whole run "
                 f"{report.duration_s:.0f} s; network {report.net_mode}; data_dir on "
                 f"{'tmpfs' if report.tmpfs else 'disk'}")
    for name, reason in report.skipped.items():
        lines.append(f"skipped: {name}: {reason}")
    lines.append(f"committed                      {report.committed:,} (last_seq {report.last_seq:,})")
    lines.append(f"received (unique sequences)    {report.received:,} ({report.deliveries:,} deliveries)")
    lines.append(f"missing before replay          {count_ranges(report.missing_before):,} in "
                 f"{len(report.missing_before)} ranges {show_ranges(report.missing_before, 4)}")
    lines.append(f"missing after replay           {count_ranges(report.missing_after):,}"
                 + (f" ({show_ranges(report.missing_after, 4)})" if report.missing_after else ""))
    lines.append(f"duplicates (same seq and id)   {report.duplicates:,}")
    lines.append(f"reused (one seq, two ids)      {len(report.reused):,}")
    sources = ", ".join(f"{k} {v:,}" for k, v in report.never_issued_sources.items()) or "none reported"
    lines.append(f"never issued (gateway says)    {count_ranges(report.never_issued):,} ({sources})")
    lines.append(f"longest stall (up, connected)  {report.longest_stall_s:.1f} s"
                 + (f" in round {report.longest_stall_round}" if report.longest_stall_round else "")
                 + f" (over {report.measured_s:.0f} s up, connected and fault-free)")
    lines.append(f"daemon memory                  peak VmHWM {mb(report.peak_hwm_kb)}, peak sampled VmRSS "
                 f"{mb(report.peak_rss_kb)}")
    lines.append(f"lost before commit (n gaps)    {report.lost_before_commit:,}")
    if report.replay is not None:
        r = report.replay
        lines.append(f"final replay                   {r.requests} requests, {r.answered} answered, "
                     f"{len(r.refused)} refused, {r.seconds:.1f} s" + (f"; {r.gave_up}" if r.gave_up else ""))
        for refusal in r.refused[:5]:
            lines.append(f"    refused: {refusal}")
    lines.append(f"liveness findings              {len(report.liveness)}")
    for finding in report.liveness:
        lines.append(f"  - {finding[:400]}")
    if report.failures:
        lines.append("FAILED:")
        lines += [f"  - {failure}" for failure in report.failures]
    else:
        lines.append("PASSED: every committed sequence delivered (or declared never issued), none reused")
    return "\n".join(lines)


def figure_block(report: ChaosReport, options: ChaosOptions, machine: str, code: str, mix: str) -> str:
    """A block to paste into bench/RESULTS.md: how it was measured, then the figures."""
    date = datetime.date.today().isoformat()
    net = ("the daemon in a network namespace joined by a veth pair to a second namespace where the harness's "
           "asyncio proxy listens (partitions: `ip link set DEV down/up`; black holes and resets: the proxy)"
           if report.net_mode == "netns" else "through the harness's asyncio proxy on loopback (black holes, resets)")
    disk = ("data_dir on a tmpfs; a full disk = `mount -o remount,size=` just above its usage, then back to 512 MB"
            if report.tmpfs else "data_dir on the normal disk (no full-disk faults)")
    stall = (f"{report.longest_stall_s:.1f} s" + (f" (round {report.longest_stall_round})"
                                                  if report.longest_stall_round else "")
             + f", over {report.measured_s:.0f} s up, connected and fault-free")
    lines = [
        f"## Chaos suite (`bench/chaos/run.py`, issue 10) — {date}",
        "",
        f"Method: `.venv/bin/python -m bench.chaos.run --rounds {options.rounds} --seed {report.seed}"
        f" --rate {options.rate:g}` against {code}: `storegw run` as a subprocess with one synthetic device at "
        f"{options.rate:g} events/s, a real mosquitto (no persistence) on loopback, {net}; {disk}. "
        f"{len([r for r in report.rounds if r.number])} rounds ({mix}) in {report.rounds_s:.0f} s, "
        f"{report.duration_s:.0f} s in all; then SIGTERM, a restart without the load until nothing is pending, "
        "`storegw outbox stats --json` for the committed range and `cmd/replay` of every gap in chunks of "
        f"{options.replay_chunk:,}. Longest stall = longest time without a new sequence while the daemon was up, "
        "said it was connected and no fault was active; memory from /proc (VmHWM, VmRSS every second).",
        f"Machine: {machine}.",
        "",
        "| figure | result |",
        "|---|---|",
        f"| committed (last_seq) | {report.committed:,} ({report.last_seq:,}) |",
        f"| received, unique sequences | {report.received:,} ({report.deliveries:,} deliveries) |",
        f"| missing before the final replay | {count_ranges(report.missing_before):,} |",
        f"| missing after the final replay | {count_ranges(report.missing_after):,} |",
        f"| duplicates (same sequence and id) | {report.duplicates:,} |",
        f"| reused (one sequence, two ids) | {len(report.reused):,} |",
        f"| never issued, as the gateway reports | {count_ranges(report.never_issued):,} |",
        f"| longest stall while up and connected | {stall} |",
        f"| daemon peak memory (VmHWM) | {mb(report.peak_hwm_kb)} |",
        f"| liveness findings (watchdog restarts, exits, refusals, starvation) | {len(report.liveness)} |",
        f"| verdict | {'pass' if report.exit_code == 0 else 'FAIL: ' + '; '.join(f[:160] for f in report.failures)} |",
    ]
    return "\n".join(["", "---- paste into bench/RESULTS.md " + "-" * 44, *lines, "-" * 77])


def parse_args(argv: Sequence[str] | None = None) -> ChaosOptions:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="bench.chaos.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--rate", type=float, default=300.0, help="synthetic events/s (default 300)")
    parser.add_argument("--net", choices=["auto", "netns", "proxy"], default="auto",
                        help="netns: daemon in a namespace with a veth link (root); proxy: loopback proxy only")
    parser.add_argument("--no-tmpfs", dest="tmpfs", action="store_false", help="no tmpfs, no full-disk faults")
    parser.add_argument("--faults", help=f"comma-separated kinds to draw from: {', '.join(FAULTS)}")
    parser.add_argument("--schedule", help="comma-separated faults in this exact order (repeated)")
    parser.add_argument("--workdir", type=Path, help="default: a new folder under /tmp")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (it is kept anyway on failure)")
    parser.add_argument("--strict", action="store_true", help="liveness findings fail the run too")
    parser.add_argument("--max-seconds", type=float, help="stop starting rounds after this long")
    parser.add_argument("--daemon-root", type=Path, default=ROOT,
                        help="run the daemon from this tree (e.g. `git archive HEAD | tar -x -C DIR`)")
    parser.add_argument("--sabotage", choices=["drop", "reuse"],
                        help="check the checker: the consumer ignores sequence 100 / invents a 2nd id for it")
    args = parser.parse_args(argv)
    lists = {}
    for name in ("faults", "schedule"):
        value = getattr(args, name)
        items = [s.strip() for s in value.split(",") if s.strip()] if value else None
        unknown = [s for s in items or [] if s not in FAULTS]
        if unknown:
            parser.error(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        lists[name] = items
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return ChaosOptions(rounds=args.rounds, seed=args.seed, rate=args.rate, net=args.net, tmpfs=args.tmpfs,
                        faults=lists["faults"], schedule=lists["schedule"], workdir=args.workdir, keep=args.keep,
                        strict=args.strict, sabotage=args.sabotage, max_seconds=args.max_seconds,
                        daemon_root=args.daemon_root.resolve())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print, exit 0 or 1."""
    options = parse_args(argv)

    def stop(signum: int, frame: Any) -> None:
        """SIGTERM/SIGHUP to the harness: unwind through the cleanup."""
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        report = run_chaos(options, out=lambda text: print(text, flush=True))
    except KeyboardInterrupt:
        print("chaos: interrupted; cleaned up", flush=True)
        return 1
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
