"""`storegw sim serial-counter`: a people counter on a pty, for technicians and the demo."""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the serial-counter emulator."""
    parser = subparsers.add_parser("serial-counter", help="a people counter on a pty (ascii or terabee)")
    parser.add_argument("--protocol", choices=("ascii", "terabee"), default="ascii")
    parser.add_argument("--link", help="stable path to point the config's `port` at (default: a temp path)")
    parser.add_argument("--rate", type=float, default=30.0, help="people per minute (default 30)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between reports (default 1)")
    parser.add_argument("--sensor-id", type=int, default=4711)
    parser.add_argument("--max-group", type=int, default=1, metavar="N",
                        help="people arrive in groups of 1 to N walking the same way (default 1: one by one)")
    parser.add_argument("--garbage-every", type=float, metavar="S", help="inject 32 garbage bytes every S seconds")
    parser.add_argument("--reset-after", type=float, metavar="S", help="simulate a power loss after S seconds")
    parser.add_argument("--wrap-after", type=float, metavar="S", help="jump the counters just below 2^16 after S s")
    parser.add_argument("--unplug-after", type=float, metavar="S", help="unplug after S seconds, replug 5 s later")
    parser.add_argument("--seconds", type=float, help="stop after S seconds")
    parser.set_defaults(func=run_emulator)


def run_emulator(args: argparse.Namespace) -> int:
    """Run the emulator until Ctrl-C (or --seconds), printing what it does."""
    from drivers.sim.serial_counter import SerialCounterEmulator

    link = args.link or os.path.join(tempfile.mkdtemp(prefix="storegw-counter-"), f"counter-{args.protocol}")
    emulator = SerialCounterEmulator(link=link, protocol=args.protocol, people_per_minute=args.rate,
                                     report_interval_s=args.interval, sensor_id=args.sensor_id,
                                     max_group_size=args.max_group).start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    print(f"people counter ({args.protocol}) on {link} -> {os.readlink(link)}")
    print(f'point a device at it:  port = "{link}"  protocol = "{args.protocol}"   (Ctrl-C to stop)', flush=True)
    start = time.monotonic()
    done: set[str] = set()
    last_garbage = start
    try:
        while not stop.wait(0.5):
            elapsed = time.monotonic() - start
            if args.garbage_every and time.monotonic() - last_garbage >= args.garbage_every:
                emulator.inject_garbage()
                last_garbage = time.monotonic()
                print(f"{elapsed:7.1f}s injected 32 garbage bytes", flush=True)
            for name, after, action in (("reset", args.reset_after, emulator.reset),
                                        ("wrap", args.wrap_after, lambda: emulator.set_counts(65530, 65530)),
                                        ("unplug", args.unplug_after, emulator.unplug)):
                if after is not None and elapsed >= after and name not in done:
                    action()
                    done.add(name)
                    print(f"{elapsed:7.1f}s {name}", flush=True)
            if "unplug" in done and "replug" not in done and elapsed >= (args.unplug_after or 0) + 5:
                emulator.replug()
                done.add("replug")
                print(f"{elapsed:7.1f}s replugged", flush=True)
            if args.seconds and elapsed >= args.seconds:
                break
    finally:
        emulator.stop()
    s = emulator.stats
    print(f"sent {s.reports} reports; {s.people_in} in, {s.people_out} out; counters now "
          f"in={emulator.count_in} out={emulator.count_out}")
    return 0
