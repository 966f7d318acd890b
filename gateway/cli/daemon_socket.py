"""Find the running daemon's status socket from `--config` / `--socket` (status, tail and top talk to it)."""

from __future__ import annotations

import argparse
import os

from gateway.cli.common import DEFAULT_CONFIG, load_or_exit
from gateway.cli.errors import CliError


def add_socket_args(parser: argparse.ArgumentParser) -> None:
    """--config and --socket, to find the daemon's socket."""
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="config of the daemon (to find its socket)")
    parser.add_argument("--socket", help="status socket path (overrides --config)")


def socket_of(args: argparse.Namespace) -> str:
    """The status socket to talk to."""
    if args.socket:
        return str(args.socket)
    if not os.path.exists(args.config):
        raise CliError(f"no config at {args.config}; pass --config FILE or --socket PATH", 2)
    from gateway.config.paths import socket_path

    return socket_path(load_or_exit(args.config))
