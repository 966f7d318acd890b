"""`storegw run --config FILE`: the daemon, exactly as systemd runs it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import threading

from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
from gateway.logsetup import setup_logging

EXIT_GRACE_S = 3.0
"""After shutdown, how long the interpreter may take to end before the exit is forced."""


def exit_guard(code: int, grace_s: float = EXIT_GRACE_S) -> threading.Timer:
    """Force the exit ``grace_s`` from now unless the process has ended by then."""

    def force() -> None:
        """A task ignoring its cancel or a thread stuck in a connect must not keep us alive."""
        logging.getLogger("storegw").error("exit took longer than %g s (a task or thread would not stop); "
                                           "forcing it", grace_s)
        logging.shutdown()
        os._exit(code)

    timer = threading.Timer(grace_s, force)
    timer.daemon = True
    timer.start()
    return timer


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
        code = await gateway.run()
        # everything is committed and closed by now; asyncio.run still cancels and awaits any
        # task left over and joins executor threads, without a time limit
        exit_guard(code)
        return code

    return asyncio.run(main())
