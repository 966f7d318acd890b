"""`storegw sim ble-scene`: write a generated store scene as a BLE recording."""

from __future__ import annotations

import argparse
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the BLE scene generator."""
    parser = subparsers.add_parser("ble-scene", help="generate a BLE recording of a store (visitors, beacons)")
    parser.add_argument("--out", required=True, help="recording file (JSON lines)")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--passers-by", type=int, default=30)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=write_scene)


def write_scene(args: argparse.Namespace) -> int:
    """Generate and write the scene."""
    from drivers.sim.ble_scene import generate

    scene = generate(start=time.time(), minutes=args.minutes, visitors=args.visitors, passers_by=args.passers_by,
                     members=args.members, seed=args.seed)
    scene.write(args.out)
    visits = sum(1 for s in scene.truth if s.kind == "visitor")
    print(f"wrote {len(scene.adverts)} adverts to {args.out}: {visits} visitor address segments, "
          f"{args.passers_by} passers-by, {args.members} member apps, 2 wall beacons; "
          f"replay with: storegw ble replay {args.out}")
    return 0
