"""`storegw audit DEVICE_ID [--minutes 15]`: the technician counts people at the door; the device is compared."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.cli.daemon_socket import add_socket_args, socket_of
from gateway.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `audit` verb."""
    parser = subparsers.add_parser("audit", help="count people at a door by hand and compare with the device")
    parser.add_argument("device", metavar="DEVICE_ID", help="the serial counter or camera to audit")
    add_socket_args(parser)
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the audit (default 15)")
    parser.add_argument("--tolerance-s", type=float, default=2.0,
                        help="how far in time a key press and a device crossing may be to match (default 2)")
    parser.add_argument("--bucket-s", type=float, default=60.0, help="period of the per-period table (default 60)")
    parser.add_argument("--line", help="audit only this door or counting line of the device")
    parser.add_argument("--settle-s", type=float, default=90.0,
                        help="longest wait after the end for the device's interval that covers it (default 90)")
    parser.add_argument("--keys", metavar="FILE", type=Path,
                        help='a scripted tally instead of the keyboard: lines "SECONDS in|out|undo"')
    parser.set_defaults(func=audit)


def audit(args: argparse.Namespace) -> int:
    """Entry of `storegw audit`."""
    from gateway.audit.session import Plan
    from gateway.audit.tally import parse_keys_file

    if not 0 < args.minutes <= 24 * 60 or args.tolerance_s < 0 or args.bucket_s <= 0 or args.settle_s < 0:
        raise CliError("--minutes must be in (0, 1440], --tolerance-s >= 0, --bucket-s > 0, --settle-s >= 0", 2)
    window_s = args.minutes * 60
    script = None
    if args.keys is not None:
        try:
            script = parse_keys_file(args.keys.read_text(), window_s)
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.keys}: {exc}", 2) from None
    elif not sys.stdin.isatty():
        raise CliError("no terminal to read keys from: run it in a terminal, or pass --keys FILE", 2)
    plan = Plan(args.device, window_s, args.tolerance_s, args.bucket_s, args.line, args.settle_s, script)
    try:
        return asyncio.run(_audit(socket_of(args), plan))
    except KeyboardInterrupt:
        print("storegw: audit abandoned; nothing saved", file=sys.stderr)
        return 130


async def _audit(path: str, plan: Any) -> int:
    """Run the audit, show the report, hand it to the daemon."""
    import msgspec
    from rich.console import Console
    from rich.live import Live

    from gateway.audit.payload import audit_data
    from gateway.audit.screen import LiveFigures, render_live, render_report
    from gateway.audit.session import AuditRefused, run_audit
    from gateway.diag.client import DaemonNotRunning, commit_audit_async

    console = Console()
    live = Live(console=console, auto_refresh=False, transient=True) if console.is_terminal else None

    def show(figures: LiveFigures) -> None:
        """A frame on a terminal; nothing on a pipe (the report comes at the end)."""
        if live is not None:
            live.update(render_live(figures), refresh=True)

    def started(start: float) -> None:
        """Say when the window opened (a test or a replayed tally keys its script to it)."""
        print(f"audit started: device {plan.device} start {start:.3f} window_s {plan.window_s:g}", flush=True)

    try:
        if live is not None:
            live.start()
        try:
            outcome = await run_audit(path, plan, show, started)
        finally:
            if live is not None:
                live.stop()
    except DaemonNotRunning as exc:
        raise CliError(str(exc), 3) from None
    except AuditRefused as exc:
        raise CliError(f"the daemon does not follow {plan.device}'s counts: {exc}", 3) from None
    if outcome.report.end - outcome.report.start < 1.0:
        raise CliError("the audit ended before it began; nothing saved", 1)
    if not outcome.device_reported:
        console.print(f"[yellow]{plan.device} did not report up to the end of the window within "
                      f"{plan.settle_s:g} s: its last counts are missing from the comparison[/]")
    data = audit_data(outcome.report, plan.device, plan.line, outcome.ended_early,
                      "file" if plan.script is not None else "keys")
    console.print(render_report(data))
    try:
        answer = await commit_audit_async(path, msgspec.to_builtins(data))
    except (DaemonNotRunning, OSError, TimeoutError, ValueError) as exc:
        raise CliError(f"the daemon did not take the report ({exc or type(exc).__name__}); it is not saved", 3) \
            from None
    if "saved" not in answer:
        raise CliError(f"the daemon refused the report: {answer.get('error')}", 3)
    console.print(f"saved {answer['saved']}; published as an audit event")
    return 0
