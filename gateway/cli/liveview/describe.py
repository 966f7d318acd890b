"""Events in a few words, for the live view's device rows and feed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway.cli.liveview.model import WindowSummary

SHORT = 60
"""Longest text of an event type the view does not know."""

Data = dict[str, Any]


def _seconds(value: Any) -> str:
    """A duration in seconds, short."""
    if not isinstance(value, int | float):
        return "?"
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.0f}min"


def _after(data: Data) -> str:
    """` after 42s` when the event has a dwell time, else nothing."""
    return f" after {_seconds(data['dwell_s'])}" if data.get("dwell_s") is not None else ""


def _footfall(data: Data) -> str:
    """A footfall interval of one door or line, with the retail figures it carries."""
    text = f"{data.get('line')}: in {data.get('in')} out {data.get('out')}"
    for kind in ("staff", "child", "groups"):
        if data.get(f"{kind}_in") is not None or data.get(f"{kind}_out") is not None:
            text += f", {kind} {data.get(f'{kind}_in') or 0}/{data.get(f'{kind}_out') or 0}"
    if data.get("passers_by") is not None:
        text += f", passers-by {data['passers_by']}"
    if isinstance(data.get("capture_rate"), int | float):
        text += f", capture {data['capture_rate']:.0%}"
    return text


def _occupancy(data: Data) -> str:
    """How many people a zone (or the store) holds; a limit alert says so."""
    limit = f" (limit {data['limit']})" if data.get("limit") is not None else ""
    alert = f", {str(data['alert']).upper()} the limit" if data.get("alert") else ""
    return f"{data.get('zone')}: {data.get('count')} inside{limit}{alert}"


def _dwell(data: Data) -> str:
    """Visits to a zone and how long they lasted."""
    mean = f", mean {_seconds(data['mean_s'])}" if data.get("mean_s") is not None else ""
    return f"{data.get('zone')}: {data.get('visits')} visits{mean}"


def _item(data: Data) -> str:
    """An RFID item arrived, moved, departed or left the store."""
    action = str(data.get("action", "?")).replace("_", " ")
    where = f"{data['from_zone']} → {data.get('zone')}" if data.get("from_zone") else f"@ {data.get('zone')}"
    gtin = f" GTIN {data['gtin']}" if data.get("gtin") else ""
    return f"{action} {where}{gtin}"


def _stock_count(data: Data) -> str:
    """A zone's stock at the end of a count cycle."""
    coverage = data.get("coverage")
    read = f", {coverage:.0%} read" if isinstance(coverage, int | float) else ""
    return f"{data.get('zone')}: {data.get('total')} items (cycle {data.get('cycle')}{read})"


def _visit(data: Data) -> str:
    """A BLE visitor entered or left."""
    detail = _after(data) or f" rssi {data.get('rssi')}"
    return f"{data.get('action')}{detail}"


def _visitors(data: Data) -> str:
    """Unique visitors of an interval."""
    return f"{data.get('unique_visitors')} visitors, {data.get('completed_visits')} visits done"


def _beacon(data: Data) -> str:
    """A beacon was seen or lost."""
    return f"{data.get('action')} {data.get('kind')} rssi {data.get('rssi')}"


def _member_visit(data: Data) -> str:
    """A member-app visitor entered or left."""
    return f"{data.get('action')}{_after(data)}"


def _demographics(data: Data) -> str:
    """An interval's age-band aggregate."""
    suppressed = f"{data.get('suppressed_cells')} cells under k={data.get('k')}"
    return f"{data.get('line')}: {data.get('total')} people, {suppressed}"


def _health(data: Data) -> str:
    """The gateway's own health report."""
    outbox, mqtt = data.get("outbox") or {}, data.get("mqtt") or {}
    return f"outbox pending {outbox.get('pending', '?')}, broker {'up' if mqtt.get('connected') else 'DOWN'}"


def _synthetic(data: Data) -> str:
    """A load-test event."""
    return f"n {data.get('n')}"


DESCRIBERS: dict[str, Callable[[Data], str]] = {
    "footfall": _footfall, "occupancy": _occupancy, "dwell": _dwell, "item": _item, "stock-count": _stock_count,
    "visit": _visit, "visitors": _visitors, "beacon": _beacon, "member-visit": _member_visit,
    "demographics": _demographics, "health": _health, "synthetic": _synthetic,
}
"""Event type -> what its data says in a few words."""


def describe_event(name: str, data: Data) -> str:
    """One event's data in a few words (compact JSON, cut short, for types without a describer)."""
    describer = DESCRIBERS.get(name)
    if describer is not None:
        try:
            return describer(data)
        except (KeyError, TypeError, ValueError):
            pass
    text = json.dumps(data, separators=(",", ":"))
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def describe_summary(summary: WindowSummary) -> str:
    """A window of summarised events: `14 arrived @ sales-floor, 3 departed @ exit`, or `200 events`."""
    if summary.name != "item":
        return f"{summary.total} events"
    ranked = sorted(summary.counts.items(), key=lambda entry: (-entry[1], entry[0]))
    return ", ".join(f"{n} {action.replace('_', ' ')} @ {zone}" for (action, zone), n in ranked)


def describe_counts(events_by_type: dict[str, int]) -> str:
    """Events by type: `footfall 12 · occupancy 3`."""
    return " · ".join(f"{name} {n}" for name, n in events_by_type.items())
