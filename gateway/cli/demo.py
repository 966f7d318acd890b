"""`storegw demo [--seconds N] [--video FILE]`: a simulated store with a live view of its events."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from gateway.cli.common import use_color
from gateway.demo import CAMERA_FAMILY, DemoOptions, lacking_installs, start_families
from gateway.logsetup import quiet_library_echoes

log = logging.getLogger("storegw.demo")
COLORS = {"footfall": "32", "item": "36", "stock-count": "34", "visit": "35", "visitors": "35",
          "beacon": "33", "member-visit": "35", "health": "90", "occupancy": "32", "dwell": "32",
          "demographics": "33"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` verb."""
    parser = subparsers.add_parser("demo", help="run a simulated store with a live view of its events")
    parser.add_argument("--seconds", type=float, help="stop by itself after N seconds (exit 0)")
    parser.add_argument("--video", help="a video file: adds a camera counting people at a door")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                        help="broker to publish to if it answers (default mqtt://127.0.0.1:1883); otherwise "
                             "mosquitto is started, or an embedded broker")
    parser.add_argument("--data-dir", help="keep the demo's outbox here (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true", help="no live view; only the summary")
    parser.add_argument("--plain", action="store_true",
                        help="one line per event instead of the live view (the default off a terminal)")
    parser.set_defaults(func=demo)


def summarise(name: str, data: dict[str, Any]) -> str:
    """One short line about an event's data."""
    if name == "health":
        devices = ", ".join(f"{k}:{v['state']}" for k, v in data["devices"].items())
        return f"outbox pending {data['outbox']['pending']}, broker {'up' if data['mqtt']['connected'] else 'DOWN'}; " \
               f"{devices}"
    text = json.dumps(data, separators=(",", ":"))
    # a footfall's retail figures (staff, groups, passers-by, capture rate) come last: never cut those
    return text if len(text) < 110 or name == "footfall" else text[:107] + "..."


async def run_demo(args: argparse.Namespace) -> int:
    """Start emulators, a broker and the gateway; show events until the time is up or Ctrl-C."""
    from gateway.app import Gateway
    from gateway.cli.liveview.screen import run_live_view
    from gateway.config import parse_config
    from gateway.config.paths import socket_path
    from gateway.config.tomlwrite import dumps
    from gateway.demo.broker import start_broker
    from gateway.mqtt.settings import parse_url

    options = DemoOptions(seconds=args.seconds, video=args.video)
    color = use_color() and not args.quiet
    live = live_view_wanted(args)
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="storegw-demo-"))
        if not args.data_dir:
            stack.callback(shutil.rmtree, workdir, True)
        workdir.mkdir(parents=True, exist_ok=True)
        host, port, _ = parse_url(args.broker)
        url, broker_text = await start_broker(stack, host, port)
        families = await start_families(stack, workdir, options)  # those whose extras are installed
        devices, notes = families.devices, families.notes
        config_dict = {"gateway": {"store_id": "demo-store", "gateway_id": "gw-demo", "data_dir": str(workdir / "data"),
                                   "health_interval_s": 15.0},
                       "mqtt": {"url": url, "topic_prefix": "storegw/v1", "reconnect_max_s": 5.0,
                                "startup_delay_max_s": 0.0},  # one gateway, not a fleet: show events at once
                       "outbox": {"max_bytes": 200_000_000}, "devices": devices}
        config_path = workdir / "demo.toml"
        config_path.write_text(dumps(config_dict))
        config = parse_config(config_path.read_text(), str(config_path))
        gateway = Gateway(config, str(config_path))
        counts: Counter[str] = Counter()

        def show(rows: list[Any], drafts: list[Any]) -> None:
            """Print each committed event as one line."""
            for row, draft in zip(rows, drafts, strict=True):
                counts[draft.name] += 1
                if args.quiet or live or draft.name == "synthetic":
                    continue
                data = msgspec.to_builtins(draft.data)
                stamp = time.strftime("%H:%M:%S", time.localtime(draft.time))
                kind = f"{draft.name:<13}"
                if color:
                    kind = f"\x1b[{COLORS.get(draft.name, '0')}m{kind}\x1b[0m"
                print(f"{stamp} #{row.seq:<6} {kind} {draft.subject:<16} {summarise(draft.name, data)}", flush=True)

        gateway.outbox.subscribe(show)
        print(f"storegw demo: {len(devices)} simulated devices, publishing to {broker_text} "
              f"under storegw/v1/demo-store/gw-demo/#", flush=True)
        print(f"  watch with: mosquitto_sub -h {parse_url(url)[0]} -p {parse_url(url)[1]} "
              f"-t 'storegw/v1/demo-store/#' -v", flush=True)
        print(f"  status:     storegw status --socket {workdir / 'data' / 'storegw.sock'}", flush=True)
        for note in notes:
            print(f"  note: {note}", flush=True)
        if families.not_included:
            print(f"  {families.not_included}", flush=True)
        if not args.video:
            camera_needs = " and ".join(lacking_installs(CAMERA_FAMILY))
            first = f"install {camera_needs}, then " if camera_needs else ""
            print(f"  no camera: {first}add one with `storegw demo --video FILE.mp4` (a door seen from above or "
                  "the side)", flush=True)
        await gateway.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        view = asyncio.create_task(run_live_view(socket_path(config), stop)) if live else None
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.seconds):
                    await stop.wait()
        finally:
            stop.set()  # ends the live view; its last frame stays on screen above the summary
            if view is not None:
                await asyncio.wait([view])  # a failed view must not keep the gateway from shutting down
            await gateway.shutdown()
        if view is not None:
            view.result()
        delivered = gateway.publisher.acked if gateway.publisher else 0
        total = sum(counts.values())
        by_type = ", ".join(f"{n} {name}" for name, n in counts.most_common())
        print(f"\nstoregw demo: {total} events committed ({by_type or 'none'}); {delivered} delivered to the "
              f"broker; {gateway.outbox.pending} still pending", flush=True)
    return 0


def live_view_wanted(args: argparse.Namespace) -> bool:
    """The live view on a terminal; one line per event off a terminal, with --plain, and none with --quiet."""
    return sys.stdout.isatty() and not args.plain and not args.quiet


def demo(args: argparse.Namespace) -> int:
    """Entry of `storegw demo`."""
    if live_view_wanted(args):
        from rich.logging import RichHandler

        # Through rich's console, so warnings print above the live view instead of tearing it.
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s",
                            handlers=[RichHandler(show_time=False, show_path=False)])
    else:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    quiet_library_echoes()
    try:
        return asyncio.run(run_demo(args))
    except KeyboardInterrupt:
        return 0
