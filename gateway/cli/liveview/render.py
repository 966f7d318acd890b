"""Draws the live view's model with rich: a header, one row per device, the latest events."""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gateway.cli.liveview.describe import describe_counts, describe_event, describe_summary
from gateway.cli.liveview.figures import LineFigures, StoreOccupancy
from gateway.cli.liveview.model import SUMMARISED_TYPES, DeviceRow, FeedEntry, LiveModel, SeenEvent

TYPE_STYLES = {"footfall": "green", "occupancy": "green", "dwell": "green", "item": "cyan", "stock-count": "blue",
               "visit": "magenta", "visitors": "magenta", "member-visit": "magenta", "beacon": "yellow",
               "demographics": "yellow", "health": "bright_black", "synthetic": "bright_black"}
STATE_STYLES = {"connected": "green", "reconnecting": "yellow", "failed": "bold red", "stopped": "bright_black"}
STALE_AFTER_S = 5.0
"""A status older than this is marked with its age."""


def clock(seconds: float) -> str:
    """Local wall-clock time of an epoch timestamp, HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def age(seconds: float | None) -> str:
    """A human duration."""
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}min" if seconds < 7200 else f"{seconds / 3600:.1f}h"


def short_commit(commit: str) -> str:
    """The first 12 hex digits of a commit, keeping a `-dirty` mark."""
    head, dirty, _ = commit.partition("-dirty")
    return head[:12] + dirty


def render_view(model: LiveModel, now: float) -> RenderableType:
    """The whole screen: header, devices and latest events."""
    parts = [render_header(model, now), render_devices(model)]
    if model.figures.any():
        parts.append(render_figures(model))
    return Group(*parts, render_feed(model))


def render_header(model: LiveModel, now: float) -> RenderableType:
    """Gateway identity, broker link, delivery and outbox depth, and how fresh all that is."""
    status: dict[str, Any] = model.status or {}
    lines: list[Text] = []
    if model.status is None:
        title = Text("storegw: waiting for the daemon's status", style="bold")
    else:
        title = Text.assemble(("storegw ", "bold"), (str(status.get("version", "?")), "bold"),
                              f" ({short_commit(str(status.get('commit', '?')))})",
                              " · store ", (str(status.get("store_id", "?")), "bold"),
                              " · gateway ", (str(status.get("gateway_id", "?")), "bold"),
                              f" · up {age(status.get('uptime_s'))}")
        mqtt, outbox = status.get("mqtt") or {}, status.get("outbox") or {}
        link = Text.assemble("broker ", ("up", "bold green") if mqtt.get("connected") else ("DOWN", "bold red"),
                             f" {mqtt.get('broker') or '?'}")
        if not mqtt.get("connected") and mqtt.get("last_error"):
            link.append(f" ({mqtt['last_error']})", style="red")
        delivered = mqtt.get("acked")
        lines.append(Text.assemble(
            link, "   delivered ", (f"{delivered:,}" if isinstance(delivered, int) else "?", "bold"),
            "   outbox pending ", (f"{outbox.get('pending', 0):,}", "bold"),
            f" · in RAM {outbox.get('queued_in_ram', 0):,} · seq {outbox.get('last_seq', 0):,}"))
        dropped = sum((outbox.get("dropped") or {}).values())
        if dropped:
            lines[-1].append(f" · dropped {dropped:,}", style="bold red")
    seen = Text(f"events seen {model.events_seen:,} since the view started")
    if model.skipped:
        seen.append(f"; {model.skipped:,} not shown (the view fell behind)", style="yellow")
    lines.append(seen)
    if model.unreachable:
        lines.append(Text(f"daemon not answering: {model.unreachable}", style="bold red"))
    else:
        stale = model.stale_for(now)
        if stale is not None and stale > STALE_AFTER_S:
            lines.append(Text(f"status is {age(stale)} old", style="yellow"))
    return Panel(Group(*lines), title=title, title_align="left", box=box.ROUNDED, padding=(0, 1))


def render_devices(model: LiveModel) -> RenderableType:
    """One row per device: kind, state, readings, events by type and the last event."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, expand=True, pad_edge=False, header_style="bold")
    table.add_column("DEVICE", no_wrap=True)
    table.add_column("KIND", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("READINGS", justify="right", no_wrap=True)
    table.add_column("EVENTS", max_width=32)
    table.add_column("LAST EVENT", ratio=1, no_wrap=True, overflow="ellipsis")
    rows = model.device_rows()
    for row in rows:
        table.add_row(row.device_id, row.kind, Text(row.state, style=STATE_STYLES.get(row.state, "")),
                      f"{row.readings:,}", describe_counts(row.events_by_type) or "-", _last_event(row))
    if not rows:
        table.add_row("(no devices)" if model.status is not None else "(waiting for the daemon)", "", "", "", "", "")
    return table


def _pair(figures: LineFigures, kind: str) -> str:
    """`in/out` of one kind of count (`staff` -> staff_in/staff_out), `-` when never reported."""
    counts = figures.counts
    if f"{kind}_in" not in counts and f"{kind}_out" not in counts:
        return "-"
    return f"{counts.get(f'{kind}_in', 0):,}/{counts.get(f'{kind}_out', 0):,}"


def render_figures(model: LiveModel) -> RenderableType:
    """Per door or line since the view started: customers, staff, children, groups, passers-by, capture, occupancy."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, expand=True, pad_edge=False, header_style="bold",
                  title=Text.assemble(("retail figures", "bold"), " (since the view started; in/out)"),
                  title_justify="left")
    for name in ("DEVICE", "LINE", "IN/OUT", "STAFF", "CHILDREN", "GROUPS", "PASSERS-BY", "CAPTURE", "U-TURNS",
                 "OCCUPANCY"):
        table.add_column(name, no_wrap=True, justify="left" if name in ("DEVICE", "LINE") else "right")
    figures = model.figures
    shown: set[str] = set()
    for line in figures.lines.values():
        counts, rate = line.counts, line.capture_rate
        occupancy = figures.occupancy.get(line.subject) if line.subject not in shown else None
        shown.add(line.subject)
        table.add_row(line.subject, line.line, f"{counts.get('in', 0):,}/{counts.get('out', 0):,}",
                      _pair(line, "staff"), _pair(line, "child"), _pair(line, "groups"),
                      f"{counts['passers_by']:,}" if "passers_by" in counts else "-",
                      f"{rate:.0%}" if rate is not None else "-",
                      f"{counts['u_turns']:,}" if "u_turns" in counts else "-", _occupancy_cell(occupancy))
    for subject, occupancy in figures.occupancy.items():
        if subject not in shown:
            table.add_row(subject, "", "", "", "", "", "", "", "", _occupancy_cell(occupancy))
    return table


def _occupancy_cell(occupancy: StoreOccupancy | None) -> Text:
    """`12 / 25`, red when over the limit; `-` without a store occupancy."""
    if occupancy is None:
        return Text("-")
    limit = f" / {occupancy.limit:,}" if occupancy.limit is not None else ""
    return Text(f"{occupancy.count:,}{limit}" + (" OVER" if occupancy.over else ""),
                style="bold red" if occupancy.over else "")


def _last_event(row: DeviceRow) -> Text:
    """The last event of a device: time, type and a few words."""
    event = row.last_event
    if event is None:
        return Text(row.last_error or "-", style="red" if row.last_error else "")
    return Text.assemble(f"{clock(event.time)} ", (event.name, TYPE_STYLES.get(event.name, "")), " ",
                         describe_event(event.name, event.data))


def render_feed(model: LiveModel) -> RenderableType:
    """The latest events, summarised types one line per device and window."""
    summarised = ", ".join(sorted(SUMMARISED_TYPES))
    table = Table(box=None, show_header=False, expand=True, pad_edge=False,
                  title=Text.assemble(("latest events", "bold"),
                                      f" ({summarised}: counted per device every {model.summary_window_s:g} s)"),
                  title_justify="left")
    table.add_column("TIME", no_wrap=True)
    table.add_column("SEQ", justify="right", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("DEVICE", no_wrap=True)
    table.add_column("WHAT", ratio=1, no_wrap=True, overflow="ellipsis")
    for entry in model.feed:
        table.add_row(*_feed_cells(entry))
    if not model.feed:
        table.add_row("", "", "", "", Text("(no events yet)", style="bright_black"))
    return table


def _feed_cells(entry: FeedEntry) -> tuple[str, str, Text, str, str]:
    """The cells of one feed line."""
    if isinstance(entry, SeenEvent):
        return (clock(entry.time), f"#{entry.seq}" if entry.seq is not None else "",
                Text(entry.name, style=TYPE_STYLES.get(entry.name, "")), entry.subject,
                describe_event(entry.name, entry.data))
    return (clock(entry.last), f"{entry.total}×", Text(entry.name, style=TYPE_STYLES.get(entry.name, "")),
            entry.subject, describe_summary(entry))
