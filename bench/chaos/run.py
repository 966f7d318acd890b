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
import contextlib
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.chaos.check import drain, finish
from bench.chaos.common import ROOT, now, run_harness
from bench.chaos.faults import FAULTS, clear_all
from bench.chaos.lab import Lab
from bench.chaos.measure import good_intervals, longest_stall
from bench.chaos.options import ChaosOptions
from bench.chaos.record import RoundRecord
from bench.chaos.report import ChaosReport, code_line, figure_block, machine_line, round_line, schedule_counts, summary
from bench.chaos.schedule import make_schedule, resolve

__all__ = ["ChaosOptions", "ChaosReport", "main", "parse_args", "run_chaos"]


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
    return run_harness("chaos", lambda out: run_chaos(options, out=out))


if __name__ == "__main__":
    sys.exit(main())
