"""`storegw outbox stats --config FILE [--json]`: works whether the daemon runs or not."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
from gateway.cli.errors import CliError
from gateway.outbox.quota import quota_policy
from gateway.outbox.schema import FiguresUnreadable, read_figures


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `outbox` verbs."""
    parser = subparsers.add_parser("outbox", help="inspect the durable outbox")
    verbs = parser.add_subparsers(dest="outbox_verb", metavar="VERB", required=True)
    stats = verbs.add_parser("stats", help="last_seq, pending, oldest pending age, bytes, drops")
    stats.add_argument("--config", default=DEFAULT_CONFIG)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=show_stats)


def read_stats(path: str) -> dict[str, Any]:
    """Read the outbox figures straight from the file, read-only (safe beside the daemon)."""
    if not os.path.exists(path):
        raise CliError(f"no outbox at {path} yet: the daemon has not run with this data_dir", 1)
    try:
        return read_figures(path)
    except FiguresUnreadable as exc:
        raise CliError(str(exc), 1) from None


def show_stats(args: argparse.Namespace) -> int:
    """Print outbox figures."""
    from gateway.config.paths import outbox_path

    config = load_or_exit(args.config)
    stats = read_stats(outbox_path(config))
    stats["max_bytes"] = quota_policy(config).max_bytes
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    age = stats["oldest_pending_age_s"]
    print(f"outbox        {stats['path']}\n"
          f"last_seq      {stats['last_seq']}\n"
          f"pending       {stats['pending']}  (oldest {'-' if age is None else f'{age:.1f} s'} ago)\n"
          f"held          {stats['held']} rows (delivered ones kept for cmd/replay)\n"
          f"bytes         {stats['bytes']:,} of {stats['max_bytes']:,} allowed\n"
          f"dropped       {json.dumps(stats['dropped']) if stats['dropped'] else 'none'}\n"
          f"write errors  {stats['write_errors']}   recoveries {stats['recoveries']}   boot {stats['boot']}")
    return 0
