"""Entry point of the `storegw` command."""

from __future__ import annotations

import argparse
import importlib
import sys

from gateway.buildinfo import describe
from gateway.cli.errors import CliError
from gateway.cli.extras import missing_extra_error

# One module per top-level verb, named after it; each defines register(subparsers) and sets `func` on its parsers.
# Each must import in a base install: heavy optional dependencies (cv2, sllurp, bleak) are imported inside the
# verb's functions, so `storegw --help` lists every verb and a missing extra is reported when the verb runs.
VERB_MODULES = (
    "gateway.cli.run",
    "gateway.cli.demo",
    "gateway.cli.config",
    "gateway.cli.status",
    "gateway.cli.tail",
    "gateway.cli.top",
    "gateway.cli.outbox",
    "gateway.cli.doctor",
    "gateway.cli.sim",
    "gateway.cli.rfid",
    "gateway.cli.vision",
    "gateway.cli.camera",
    "gateway.cli.ble",
    "gateway.cli.verify",
    "gateway.cli.fleet",
    "gateway.cli.audit",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, with every verb registered."""
    parser = argparse.ArgumentParser(prog="storegw", description="Edge sensor gateway for physical stores.")
    parser.add_argument("--version", action="version", version=describe())
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def run_verb(args: argparse.Namespace) -> int:
    """Run the chosen verb; a missing optional extra becomes a CliError that names what to install."""
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        error = missing_extra_error(args.verb, exc)
        if error is None:
            raise
        raise error from None


def main(argv: list[str] | None = None) -> int:
    """Run the storegw command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return run_verb(args)
    except CliError as exc:
        print(f"storegw: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
