"""What the technician sees: the live tally during the audit, and the report at the end (rich)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gateway.events.types.audit import AuditData, AuditDirection

HELP = "i / + / up: one person IN    o / - / down: one person OUT    u / backspace: undo    q: end now"


@dataclass(slots=True)
class LiveFigures:
    """One frame of the live screen."""

    device: str
    left_s: float
    manual_in: int
    manual_out: int
    device_in: int | None
    device_out: int | None
    resolution_s: float
    settling: bool = False


def render_live(f: LiveFigures) -> Panel:
    """The live screen: time left, both tallies, the device's counts so far."""
    table = Table(show_header=True, box=None, padding=(0, 3))
    table.add_column("")
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_row("you counted", str(f.manual_in), str(f.manual_out), style="bold")
    device = ("-", "-") if f.device_in is None else (str(f.device_in), str(f.device_out))
    lag = f" (reports every {f.resolution_s:g} s)" if f.resolution_s else ""
    table.add_row(f"device{lag}", *device)
    minutes, seconds = divmod(max(0, int(f.left_s + 0.999)), 60)
    title = ("waiting for the device's last interval ..." if f.settling
             else f"audit of {f.device}: {minutes:02d}:{seconds:02d} left")
    return Panel(Group(table, Text(""), Text(HELP, style="dim")), title=title)


def _pct(value: float | None) -> str:
    """A share as a percentage, or n/a."""
    return "n/a" if value is None else f"{value:.1%}"


def render_report(data: AuditData) -> Group:
    """The report: per direction and per period, and which measure the accuracy is."""
    table = Table(title=f"audit of {data.device}" + (f" line {data.line}" if data.line else "")
                  + f", {data.window_s:g} s from {data.window_start}" + (" (ended early)" if data.ended_early else ""))
    for column in ("", "manual", "device", "matched", "missed", "extra", "net accuracy", "absolute accuracy"):
        table.add_column(column, justify="right" if column else "left")
    rows: list[tuple[str, AuditDirection]] = [("in", data.in_), ("out", data.out), ("total", data.total)]
    for name, d in rows:
        table.add_row(name, str(d.manual), str(d.device), str(d.matched), str(d.missed), str(d.extra),
                      _pct(d.net_accuracy), _pct(d.absolute_accuracy))
    periods = Table(title=f"per {data.bucket_s:g} s")
    for column in ("from s", "manual in", "device in", "manual out", "device out"):
        periods.add_column(column, justify="right")
    for b in data.buckets:
        periods.add_row(f"{b.offset_s:g}", str(b.manual_in), str(b.device_in), str(b.manual_out), str(b.device_out))
    notes = Text(f"matched = a count of yours with a device crossing of the same direction within "
                 f"{data.tolerance_s:g} s (one to one); net accuracy = 1 - |device - manual| / manual; "
                 f"absolute accuracy = 1 - (missed + extra) / manual"
                 + (f"; the device reports every {data.device_resolution_s:g} s, so a match means within "
                    "that interval" if data.device_resolution_s else ""), style="dim")
    return Group(table, periods, notes)
