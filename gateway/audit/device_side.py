"""What the device counted during an audit, from the spans of counts the daemon streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.audit.report import Crossing


@dataclass(slots=True)
class DeviceSide:
    """The spans of one device (of one line when ``line`` is set) received so far."""

    line: str | None = None
    spans: list[dict[str, Any]] = field(default_factory=list)
    reported_to: dict[str, float] = field(default_factory=dict)
    """Per line, the end of the latest span: how far the device has reported."""

    def add(self, span: dict[str, Any]) -> None:
        """Keep one span (zero counts too: they say how far the device has reported)."""
        if self.line is not None and span.get("line") != self.line:
            return
        line = str(span.get("line", ""))
        self.spans.append(span)
        self.reported_to[line] = max(self.reported_to.get(line, 0.0), float(span["to"]))

    def reported_until(self) -> float | None:
        """The moment up to which every line seen has reported, or None before any span."""
        return min(self.reported_to.values()) if self.reported_to else None

    def counts(self, start: float, now: float) -> tuple[int, int]:
        """People in and out in spans whose middle lies in [start, now]."""
        inside = [s for s in self.spans if start <= (s["from"] + s["to"]) / 2 <= now]
        return sum(int(s["in"]) for s in inside), sum(int(s["out"]) for s in inside)

    def crossings(self) -> list[Crossing]:
        """One Crossing per person counted, spread over its span (a moment when the span has no length)."""
        result = []
        for span in self.spans:
            start, end = float(span["from"]), float(span["to"])
            for direction in ("in", "out"):
                result += [Crossing(direction, start, end if end > start else None)] * int(span[direction])
        return result
