"""The chaos report: its figures, the per-round lines, the verdict text and the block for bench/RESULTS.md."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos.common import ROOT, run_cmd
from bench.chaos.options import ChaosOptions
from bench.chaos.record import RoundRecord
from bench.chaos.replay import ReplayOutcome
from bench.chaos.spans import count_ranges


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


def round_line(record: RoundRecord, total: int) -> str:
    """One line per round (plus its notes and findings)."""
    head = (f"  round {record.number:>2}/{total}  {record.fault:<20} {record.ended - record.started:6.1f} s  "
            f"{record.new_events:>7,} new events  stall {record.stall_s:5.1f} s  rss {mb(record.peak_rss_kb):>8}  "
            f"{record.detail}")
    lines = [head] + [f"      - {note}" for note in record.notes]
    lines += [f"      !! {problem}" for problem in record.problems]
    return "\n".join(lines)


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
