"""`storegw config check FILE` and `storegw config schema`."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.config import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `config` verbs."""
    parser = subparsers.add_parser("config", help="check a config file or print its JSON Schema")
    verbs = parser.add_subparsers(dest="config_verb", metavar="VERB", required=True)
    check = verbs.add_parser("check", help="validate a config file (and that each device's extra is installed); "
                             "exit 2 with FILE:LINE: key: problem")
    check.add_argument("file")
    check.set_defaults(func=check_config)
    schema = verbs.add_parser("schema", help="print the JSON Schema of the config")
    schema.set_defaults(func=print_schema)


def check_config(args: argparse.Namespace) -> int:
    """Validate one config file and report every problem."""
    try:
        config = load_config(args.file, check_extras=True)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    kinds = ", ".join(f"{d.id} ({d.kind})" for d in config.devices) or "no devices"
    print(f"{args.file}: ok: store {config.gateway.store_id}, gateway {config.gateway.gateway_id}, {kinds}")
    return 0


def print_schema(args: argparse.Namespace) -> int:
    """Print the config's JSON Schema."""
    from gateway.config.schema import config_schema

    print(json.dumps(config_schema(), indent=2))
    return 0
