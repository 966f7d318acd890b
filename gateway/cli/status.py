"""`storegw status [--json]`: what the running daemon is doing, asked over its status socket."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.cli.daemon_socket import add_socket_args, socket_of
from gateway.cli.errors import CliError
from gateway.diag.client import DaemonNotRunning, request_status


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `status` verb."""
    status = subparsers.add_parser("status", help="what the running daemon is doing")
    add_socket_args(status)
    status.add_argument("--json", action="store_true", help="one JSON document")
    status.set_defaults(func=show_status)


def _age(value: float | None) -> str:
    """A human age."""
    if value is None:
        return "never"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.0f}min"


def show_status(args: argparse.Namespace) -> int:
    """Print the daemon's status."""
    try:
        status = request_status(socket_of(args))
    except DaemonNotRunning as exc:
        raise CliError(str(exc), 3) from None
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(format_status(status))
    return 0


def format_status(s: dict[str, Any]) -> str:
    """The human status screen."""
    o, m = s["outbox"], s["mqtt"]
    lines = [
        f"storegw {s['version']}  store {s['store_id']}  gateway {s['gateway_id']}  boot {s['boot']}  "
        f"up {_age(s['uptime_s'])}",
        f"broker   {m.get('broker')}  {'connected' if m['connected'] else 'DISCONNECTED'}  "
        f"last PUBACK {_age(m['last_puback_age_s'])} ago  inflight {m['inflight']}  reconnects {m['reconnects']}"
        + (f"  last error: {m['last_error']}" if m.get("last_error") else ""),
        f"outbox   seq {o['last_seq']}  pending {o['pending']}  oldest {_age(o['oldest_pending_age_s'])}  "
        f"{o['bytes'] / 1e6:.1f}/{o['max_bytes'] / 1e6:.0f} MB  dropped {sum(o['dropped'].values())}"
        f"  disk free {s['disk_free_bytes'] / 1e9:.1f} GB",
        "",
        f"{'DEVICE':20} {'KIND':15} {'STATE':13} {'READINGS':>9} {'LAST':>8} {'RECONN':>6} {'RESTART':>7}  ERRORS",
    ]
    for device_id, d in s["devices"].items():
        errors = ", ".join(f"{k}={v}" for k, v in d.get("errors", {}).items()) or "-"
        lines.append(f"{device_id:20} {d['kind']:15} {d['state']:13} {d['readings']:>9} "
                     f"{_age(d['last_reading_age_s']):>8} {d['reconnects']:>6} {d['restarts']:>7}  {errors}")
        if d.get("last_error"):
            lines.append(f"{'':20} last error: {d['last_error']}")
    if not s["devices"]:
        lines.append("(no devices configured)")
    return "\n".join(lines)

