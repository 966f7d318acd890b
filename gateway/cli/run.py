"""`storegw run --config FILE`: the daemon, exactly as systemd runs it."""

from __future__ import annotations

import argparse
import asyncio

from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
from gateway.logsetup import setup_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` verb."""
    parser = subparsers.add_parser("run", help="run the daemon (systemd runs exactly this)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config and run the gateway until signalled."""
    config = load_or_exit(args.config)
    setup_logging(config.gateway.log_level)
    from gateway.app import Gateway

    async def main() -> int:
        """Run the gateway until it is signalled to stop."""
        gateway = Gateway(config, args.config)
        return await gateway.run()

    return asyncio.run(main())
