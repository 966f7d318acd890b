"""`storegw doctor --config FILE`: what is wrong, and what to do about it."""

from __future__ import annotations

import argparse

from gateway.cli.common import DEFAULT_CONFIG
from gateway.config import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `doctor` verb."""
    parser = subparsers.add_parser("doctor", help="check config, disk, clock, broker, TLS and every device")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.set_defaults(func=doctor)


def doctor(args: argparse.Namespace) -> int:
    """Run every check; non-zero exit when one failed."""
    from gateway.doctor import print_checks, run_checks

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[FAIL] config: {problem}; fix it (storegw config check {args.config})")
        return 2
    return print_checks(run_checks(config, args.config), print)
