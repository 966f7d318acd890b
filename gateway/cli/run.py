"""`storegw run --config FILE`: the daemon, exactly as systemd runs it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading

from gateway.cli.common import DEFAULT_CONFIG
from gateway.cli.errors import CliError
from gateway.config import Config, ConfigError, load_config
from gateway.config.files import restrict_umask
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


def load_for_daemon(path: str) -> Config:
    """Load the config with the daemon's own checks (data_dir writable) or raise a CliError (exit 2)."""
    try:
        return load_config(path, for_daemon=True)
    except ConfigError as exc:
        for problem in exc.problems[:-1]:
            print(problem, file=sys.stderr)
        raise CliError(f"{exc.problems[-1]} (fix the config; `storegw config check {path}` lists all problems)",
                       2) from None


def run(args: argparse.Namespace) -> int:
    """Load the config and run the gateway until signalled; any error at start is one sentence and an exit."""
    restrict_umask()  # before anything is created: data_dir files are never world-readable
    config = load_for_daemon(args.config)
    setup_logging(config.gateway.log_level)
    from gateway.app import Gateway, StartError

    async def main() -> int:
        """Run the gateway until it is signalled to stop."""
        gateway = Gateway(config, args.config)
        code = await gateway.run()
        # everything is committed and closed by now; asyncio.run still cancels and awaits any
        # task left over and joins executor threads, without a time limit
        exit_guard(code)
        return code

    try:
        return asyncio.run(main())
    except StartError as exc:
        exit_guard(1)  # start undid what it began; this only guards against a thread left behind
        raise CliError(str(exc), 1) from None
    except Exception as exc:  # a bug: keep its traceback in the log, but never hang on the way out
        logging.getLogger("storegw").critical("the daemon stopped on an unexpected error", exc_info=True)
        exit_guard(1)
        raise CliError(f"the daemon stopped on an unexpected error ({type(exc).__name__}); "
                       "see the log above and report it", 1) from None
