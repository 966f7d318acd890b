"""`storegw tail [--type T]`: follow the running daemon's events as they are committed."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.daemon_socket import add_socket_args, socket_of
from gateway.cli.errors import CliError
from gateway.diag.client import DaemonNotRunning, follow_events


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tail` verb."""
    tail = subparsers.add_parser("tail", help="follow events as they are committed")
    add_socket_args(tail)
    tail.add_argument("--type", action="append", default=[], dest="types", metavar="T",
                      help="only this event type (repeatable), e.g. footfall")
    tail.set_defaults(func=tail_events)


def tail_events(args: argparse.Namespace) -> int:
    """Print events as the daemon commits them."""
    try:
        for line in follow_events(socket_of(args), args.types):
            sys.stdout.write(line.decode() + "\n")
            sys.stdout.flush()
    except DaemonNotRunning as exc:
        raise CliError(str(exc), 3) from None
    return 0
