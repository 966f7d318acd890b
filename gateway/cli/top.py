"""`storegw top [--once]`: the running daemon live: devices, broker link, outbox and the latest events."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from gateway.cli.common import DEFAULT_CONFIG
from gateway.cli.daemon_socket import socket_of
from gateway.cli.errors import CliError
from gateway.diag.client import DaemonNotRunning, request_status_async

ONCE_AFTER_S = 1.0
"""How long `--once` follows the daemon before it prints its frame."""
PIPE_WIDTH = 120
"""Width of the frame printed to something that is not a terminal (unless COLUMNS says otherwise)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `top` verb."""
    parser = subparsers.add_parser("top", help="the running daemon live: devices, broker, outbox, latest events")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="config of the daemon (to find its socket)")
    parser.add_argument("--socket", help="status socket path (overrides --config)")
    parser.add_argument("--once", action="store_true",
                        help=f"print one frame after {ONCE_AFTER_S:g} s of data and exit")
    parser.set_defaults(func=top)


async def check_daemon(path: str) -> None:
    """Raise a CliError (exit 3) when no daemon answers on ``path``."""
    try:
        await request_status_async(path)
    except DaemonNotRunning as exc:
        raise CliError(str(exc), 3) from None
    except (OSError, TimeoutError, ValueError) as exc:
        raise CliError(f"the daemon on {path} did not answer ({exc or type(exc).__name__}); "
                       "check it with `systemctl status storegw`", 3) from None


async def print_once(path: str) -> None:
    """Follow the daemon for a moment and print one frame."""
    from rich.console import Console

    from gateway.cli.liveview.render import render_view
    from gateway.cli.liveview.source import collect

    await check_daemon(path)
    model = await collect(path, ONCE_AFTER_S)
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    Console(width=width).print(render_view(model, time.time()))


async def watch(path: str) -> None:
    """The live view until Ctrl-C or SIGTERM."""
    from gateway.cli.liveview.screen import run_live_view

    await check_daemon(path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_live_view(path, stop)


def top(args: argparse.Namespace) -> int:
    """Entry of `storegw top`."""
    path = socket_of(args)
    try:
        asyncio.run(print_once(path) if args.once else watch(path))
    except KeyboardInterrupt:  # before the signal handlers are in place
        pass
    return 0
