"""`storegw config check FILE`, `storegw config schema` and `storegw config show`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gateway.cli.common import DEFAULT_CONFIG
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
    show = verbs.add_parser("show", help="which config is active (local file or a remote version), its sha256 and "
                            "where it came from; read from data_dir, the daemon need not run")
    show.add_argument("--config", default=DEFAULT_CONFIG, help=f"the local config file (default {DEFAULT_CONFIG})")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=show_config)


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


def _when(stamp: float | None) -> str:
    """A unix time as UTC text."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(stamp)) if stamp is not None else "?"


def active_config(path: str) -> dict[str, Any]:
    """What `config show` reports: the config a start uses now, the trial in progress, the versions kept."""
    from gateway.remote.startup import choose_at_start, local_origin
    from gateway.remote.store import ConfigStore, StoreCorrupt

    local = load_config(path)
    store = ConfigStore(local.gateway.data_dir, local.remote.keep_versions)
    try:
        state = store.load_state()
        problem = None
    except StoreCorrupt as exc:
        state, problem = None, str(exc)
    trial = state.entry(state.trial.slot) if state and state.trial else None
    choice = choose_at_start(local, path, store, time.time(), dry_run=True)
    origin = choice.origin
    return {"source": origin.source, "version": origin.version, "sha256": origin.sha256, "path": origin.path,
            "committed_at": origin.since, "local_file": {"path": local_origin(path).path,
                                                         "sha256": local_origin(path).sha256},
            "remote_config_apply": local.remote.config_apply, "store_problem": problem,
            "trial": None if trial is None else {"version": trial.version, "sha256": trial.sha256,
                                                 "started_at": trial.stored_at},
            # a trial shown here is running (or was cut): the start's "interrupted" note about it would mislead
            "notes": [notice.reason for notice in choice.notices if trial is None or notice.sha256 != trial.sha256],
            "versions": [{"slot": e.slot, "version": e.version, "sha256": e.sha256, "outcome": e.outcome,
                          "stored_at": e.stored_at, "committed_at": e.committed_at} for e in
                         (state.history if state else [])]}


def show_config(args: argparse.Namespace) -> int:
    """Print which config is active, its version and sha256, and where it came from."""
    try:
        shown = active_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(shown, indent=2))
        return 0
    if shown["source"] == "remote":
        print(f"active: remote version {shown['version']!r}, committed {_when(shown['committed_at'])}")
    else:
        print("active: the local file")
    print(f"sha256: {shown['sha256']}\nfile: {shown['path']}")
    print(f"local file: {shown['local_file']['path']} (sha256 {shown['local_file']['sha256']})")
    if shown["trial"]:
        trial = shown["trial"]
        print(f"on trial: version {trial['version']!r} since {_when(trial['started_at'])} (the daemon commits or "
              "rolls it back; a restart rolls it back)")
    for note in shown["notes"]:
        print(f"note: {note}")
    if shown["store_problem"]:
        print(f"problem: {shown['store_problem']}")
    print(f"remote changes: {'on' if shown['remote_config_apply'] else 'off ([remote] config_apply = false)'}")
    for entry in shown["versions"]:
        stored = _when(entry["stored_at"])
        print(f"  kept {entry['slot']:06d}: {entry['version']!r} {entry['outcome']}, stored {stored}")
    return 0
