"""Entry point of the `storegw` command."""

from __future__ import annotations

import argparse
import importlib
import sys

from gateway.buildinfo import describe
from gateway.cli.errors import CliError

# Verb-family modules; each defines register(subparsers) and sets `func` on its parsers.
# Imported lazily per module so `storegw status` does not pay for cv2 or sllurp.
VERB_MODULES = (
    "gateway.cli.run",
    "gateway.cli.demo",
    "gateway.cli.configcmd",
    "gateway.cli.status",
    "gateway.cli.top",
    "gateway.cli.outbox",
    "gateway.cli.doctor",
    "gateway.cli.sim",
    "gateway.cli.rfid",
    "gateway.cli.vision",
    "gateway.cli.ble",
    "gateway.cli.verify",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, with every verb family registered."""
    parser = argparse.ArgumentParser(prog="storegw", description="Edge sensor gateway for physical stores.")
    parser.add_argument("--version", action="version", version=describe())
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a verb family not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the storegw command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"storegw: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
