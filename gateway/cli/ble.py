"""`storegw ble scan` (live table, optional raw recording) and `storegw ble replay FILE`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from gateway.cli.errors import CliError
from gateway.cli.extras import require_extra_of


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ble` verbs."""
    parser = subparsers.add_parser("ble", help="scan BLE adverts or replay a recording through the pipeline")
    verbs = parser.add_subparsers(dest="ble_verb", metavar="VERB", required=True)
    scan = verbs.add_parser("scan", help="live table of what is seen (addresses only as pseudonyms)")
    scan.add_argument("--seconds", type=float, help="stop after N seconds")
    scan.add_argument("--record", metavar="FILE", help="write raw adverts as JSON lines (stays on this box)")
    scan.add_argument("--adapter", default="hci0")
    scan.add_argument("--passive", action="store_true", help="passive scanning (BlueZ >= 5.55, experimental)")
    scan.add_argument("--replay", metavar="FILE", help="scan a recording instead of the adapter (for training)")
    scan.set_defaults(func=scan_command)
    replay = verbs.add_parser("replay", help="run a recording through the presence pipeline on its own clock")
    replay.add_argument("file")
    replay.add_argument("--config", help="take the presence settings of the first ble device of this config")
    replay.add_argument("--json", action="store_true", help="one JSON document: events and summary")
    replay.set_defaults(func=replay_command)


def _settings(config_path: str | None) -> Any:
    """Presence settings from a config's first BLE device, or the defaults."""
    from gateway.devices.ble.config import BLEConfig
    from gateway.devices.ble.runner import presence_settings
    from gateway.pipelines.presence import PresenceSettings

    if not config_path:
        return PresenceSettings()
    from gateway.cli.common import load_or_exit

    config = load_or_exit(config_path)
    device = next((d for d in config.devices if isinstance(d, BLEConfig)), None)
    if device is None:
        raise CliError(f"{config_path} has no ble device; replaying with the default settings needs no --config", 2)
    return presence_settings(device, config_path)


def replay_command(args: argparse.Namespace) -> int:
    """Replay a recording on its own clock; open visits close at the last timestamp.

    Lines with an absurd timestamp are skipped and counted (``garbage_lines`` in the summary).
    """
    import msgspec

    from drivers.sim.ble_replay import read_recording
    from gateway.pipelines.presence import PresencePipeline, beacon_summary

    try:
        recording = read_recording(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot replay {args.file}: {exc}", 2) from None
    adverts = recording.adverts
    pipeline = PresencePipeline(_settings(args.config))
    events = []
    for advert in adverts:
        events += pipeline.feed(advert, advert.t)
    if adverts:
        events += pipeline.close_all(adverts[-1].t)
    out = [{"type": e.type, "time": e.time, "data": msgspec.to_builtins(e.data)} for e in events]
    summary = {"visits": pipeline.completed_visits, "beacons": beacon_summary(pipeline), "adverts": len(adverts),
               "garbage_lines": recording.skipped}
    if args.json:
        print(json.dumps({"events": out, "summary": summary}))
        return 0
    for event in out:
        print(f"{time.strftime('%H:%M:%S', time.gmtime(event['time']))}Z {event['type']:<13} "
              f"{json.dumps(event['data'], separators=(',', ':'))}")
    print(f"\n{len(adverts)} adverts, {summary['visits']} completed visits, {len(summary['beacons'])} beacons")
    if recording.skipped:
        lines = ", ".join(map(str, recording.skipped_lines)) + (", ..." if recording.skipped > 10 else "")
        print(f"{recording.skipped} lines skipped: timestamp not finite or outside 1970..2099 (line {lines})")
    return 0


def scan_command(args: argparse.Namespace) -> int:
    """Scan and show a live table keyed by pseudonym."""
    require_extra_of("ble", "ble")
    return asyncio.run(_scan(args))


async def _scan(args: argparse.Namespace) -> int:
    """The live scan."""
    import secrets

    from drivers.ble import Advert, BLEDriver
    from drivers.ble.adverts import to_record
    from drivers.ble.decoders import decode_beacon

    backend: Any = None
    backend_kwargs: dict[str, Any] = {}
    if args.replay:
        from drivers.sim.ble_replay import ReplayScanner

        backend, backend_kwargs = ReplayScanner, {"recording": args.replay}
    driver = BLEDriver("scan", adapter=args.adapter, scanning_mode="passive" if args.passive else "active",
                       watchdog_s=3600, backend=backend, backend_kwargs=backend_kwargs)
    salt = secrets.token_bytes(32)
    rows: dict[str, dict[str, Any]] = {}
    record = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115

    def on_advert(advert: Advert) -> None:
        """Update the table row of the advert's pseudonym; record it raw if asked."""
        import hashlib
        import hmac

        key = hmac.new(salt, advert.address.encode(), hashlib.sha256).hexdigest()[:12]
        beacon = decode_beacon(advert.manufacturer_data, advert.service_data)
        row = rows.setdefault(key, {"n": 0, "first": advert.t})
        row.update(n=row["n"] + 1, rssi=advert.rssi, last=advert.t, kind=beacon.kind if beacon else "device")
        if record:
            record.write(to_record(advert) + "\n")

    async def show() -> None:
        """Redraw the table once a second."""
        while True:
            await asyncio.sleep(1)
            now = time.time()
            lines = [f"{'PSEUDONYM':14} {'KIND':14} {'RSSI':>5} {'ADVERTS':>8} {'SEEN FOR':>9} {'LAST':>6}"]
            for key, row in sorted(rows.items(), key=lambda kv: -kv[1]["rssi"])[:30]:
                lines.append(f"{key:14} {row['kind']:14} {row['rssi']:>5} {row['n']:>8} "
                             f"{row['last'] - row['first']:>8.0f}s {now - row['last']:>5.0f}s")
            if sys.stdout.isatty():
                sys.stdout.write("\x1b[2J\x1b[H")
            sys.stdout.write("\n".join(lines) + f"\n{len(rows)} devices; {driver.stats.readings} adverts\n")
            sys.stdout.flush()

    scan = asyncio.create_task(driver.run(on_advert))
    table = asyncio.create_task(show())
    try:
        await asyncio.wait_for(asyncio.shield(scan), args.seconds) if args.seconds else await scan
    except TimeoutError:
        pass
    finally:
        for task in (scan, table):
            task.cancel()
        await asyncio.gather(scan, table, return_exceptions=True)
        if record:
            record.close()
    if driver.stats.readings == 0 and driver.stats.last_error:
        raise CliError(f"nothing received: {driver.stats.last_error}; "
                       "check that bluetoothd runs and the adapter exists (bluetoothctl list)", 1)
    return 0
