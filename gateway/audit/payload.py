"""A Report as the `audit` event's payload (numbers only: no press, no crossing, no person leaves the box)."""

from __future__ import annotations

from typing import Literal

from gateway.audit.report import Report, Tally
from gateway.events.envelope import rfc3339
from gateway.events.types.audit import AuditBucket, AuditData, AuditDirection


def _share(value: float | None) -> float | None:
    """A share rounded to 0.01 %."""
    return None if value is None else round(value, 4)


def direction_data(tally: Tally) -> AuditDirection:
    """One direction's figures."""
    return AuditDirection(manual=tally.manual, device=tally.device, matched=tally.matched, missed=tally.missed,
                          extra=tally.extra, net_accuracy=_share(tally.net_accuracy),
                          absolute_accuracy=_share(tally.absolute_accuracy))


def audit_data(report: Report, device: str, line: str | None = None, ended_early: bool = False,
               tally: Literal["keys", "file"] = "keys") -> AuditData:
    """The payload of ``report`` for ``device`` (and ``line`` when one line was audited)."""
    mae = report.bucket_mae
    return AuditData(
        device=device, line=line, window_start=rfc3339(report.start), window_s=round(report.end - report.start, 3),
        ended_early=ended_early, tally=tally, tolerance_s=report.tolerance_s,
        device_resolution_s=round(report.resolution_s, 3),
        in_=direction_data(report.directions["in"]), out=direction_data(report.directions["out"]),
        total=direction_data(report.total), bucket_s=report.bucket_s,
        buckets=[AuditBucket(offset_s=round(b.offset_s, 3), manual_in=b.manual["in"], manual_out=b.manual["out"],
                             device_in=b.device["in"], device_out=b.device["out"]) for b in report.buckets],
        bucket_mae=None if mae is None else round(mae, 4))
