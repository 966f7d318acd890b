"""`storegw rfid inventory`: a one-shot inventory through the same driver the daemon uses."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

from gateway.cli.errors import CliError
from gateway.cli.extras import require_extra_of


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `rfid` verbs."""
    parser = subparsers.add_parser("rfid", help="test an RFID reader")
    verbs = parser.add_subparsers(dest="rfid_verb", metavar="VERB", required=True)
    inventory = verbs.add_parser("inventory", help="inventory for S seconds: counts per GTIN per antenna")
    inventory.add_argument("--reader", required=True, metavar="HOST[:PORT]")
    inventory.add_argument("--antennas", default="1", help="comma-separated antenna numbers (default 1)")
    inventory.add_argument("--duration", type=float, required=True, metavar="S")
    inventory.add_argument("--power-dbm", type=float)
    inventory.add_argument("--json", action="store_true", help="one JSON document")
    inventory.set_defaults(func=inventory_command)


def parse_reader(text: str) -> tuple[str, int]:
    """HOST[:PORT] with the LLRP default port 5084."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not port:
        return text, 5084
    if not port.isdigit():
        raise CliError(f"bad reader address {text!r}: use HOST or HOST:PORT", 2)
    return host, int(port)


def summarise(reads: list[Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Count each tag once, at the antenna where its mean RSSI is highest."""
    from gateway.pipelines.epc import decode_epc

    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0]))  # type: ignore[arg-type]
    for read in reads:
        cell = sums[read.epc][read.antenna]
        cell[0] += read.rssi if read.rssi is not None else -100.0
        cell[1] += 1
    by_gtin: dict[str, Any] = {}
    non_gs1: dict[str, Any] = {"total": 0, "by_antenna": {}}
    for epc, antennas in sums.items():
        best = max(antennas, key=lambda a: antennas[a][0] / antennas[a][1])
        gtin = decode_epc(epc).gtin
        bucket = by_gtin.setdefault(gtin, {"total": 0, "by_antenna": {}}) if gtin else non_gs1
        bucket["total"] += 1
        bucket["by_antenna"][str(best)] = bucket["by_antenna"].get(str(best), 0) + 1
    return dict(sorted(by_gtin.items())), non_gs1, len(sums)


async def run_inventory(host: str, port: int, antennas: list[int], duration: float,
                        power_dbm: float | None) -> tuple[list[Any], Any]:
    """Collect reads for ``duration`` seconds; returns them and the driver (for its stats and diagnosis)."""
    from drivers.base import Backoff
    from drivers.llrp import LLRPDriver
    from gateway.devices.llrp.config import LLRPConfig

    # one-shot: what went wrong is told once at the end, not as a log line per retry (sllurp's included)
    logging.getLogger("sllurp").setLevel(logging.CRITICAL)
    logging.getLogger("storegw.driver.llrp").setLevel(logging.ERROR)

    # the daemon's own mapping of reader settings, so the inventory is taken as the daemon would take it
    reader = LLRPConfig(id="inventory", host=host, port=port, antennas=antennas, power_dbm=power_dbm)
    driver = LLRPDriver(reader.id, host=reader.host, port=reader.port, reader_config=reader.sllurp_settings(),
                        backoff=Backoff(initial=0.5, maximum=2.0))
    reads: list[Any] = []
    task = asyncio.create_task(driver.run(reads.extend))
    await asyncio.sleep(duration)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    driver.shutdown()
    return reads, driver


def inventory_command(args: argparse.Namespace) -> int:
    """Inventory and print the counts."""
    require_extra_of("rfid", "llrp")
    host, port = parse_reader(args.reader)
    try:
        antennas = [int(a) for a in args.antennas.split(",") if a.strip()]
    except ValueError:
        raise CliError(f"bad --antennas {args.antennas!r}: use numbers like 1,2,3,4", 2) from None
    reads, driver = asyncio.run(run_inventory(host, port, antennas, args.duration, args.power_dbm))
    if not reads:
        problem = driver.diagnosis()
        if problem is not None:  # no LLRP inventory ever ran: "0 reads" would be a lie
            raise CliError(f"{problem}; check --reader HOST:PORT (LLRP listens on 5084) "
                           "and that the reader is on and not held by another client", 1)
        if driver.stats.last_error:
            raise CliError(f"no tags read from {host}:{port}: {driver.stats.last_error}", 1)
    by_gtin, non_gs1, unique = summarise(reads)
    document = {"reader": f"{host}:{port}", "duration_s": float(args.duration), "reads": len(reads),
                "unique_tags": unique, "by_gtin": by_gtin, "non_gs1": non_gs1}
    if args.json:
        print(json.dumps(document))
        return 0
    print(f"reader {host}:{port}  {args.duration:g} s  {len(reads)} reads  {unique} unique tags "
          f"({len(reads) / max(args.duration, 1e-9):.0f} reads/s)")
    print(f"\n{'GTIN':16} {'TOTAL':>6}  " + "  ".join(f"ANT{a:>2}" for a in antennas))
    for gtin, row in [*by_gtin.items(), ("(non-GS1)", non_gs1)]:
        cells = "  ".join(f"{row['by_antenna'].get(str(a), 0):>5}" for a in antennas)
        print(f"{gtin:16} {row['total']:>6}  {cells}")
    return 0
