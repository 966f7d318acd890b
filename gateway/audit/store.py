"""Saving and committing an audit report in the daemon: `{data_dir}/audits/<device>-<UTC time>.json`, 0640."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.audit.feed import epoch_of
from gateway.events.types.audit import AuditData
from gateway.pipelines import Event

FILE_MODE = 0o640
SAFE = re.compile(r"[^A-Za-z0-9._-]")


def report_path(data_dir: str, data: AuditData) -> str:
    """Where the report of ``data`` is kept."""
    start = dt.datetime.fromtimestamp(epoch_of(data.window_start), dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(data_dir, "audits", f"{SAFE.sub('_', data.device)}-{start}.json")


def encode_report(data: AuditData) -> bytes:
    """The saved file's bytes: indented JSON of the `audit` payload and a newline (the bench writes the same)."""
    return msgspec.json.format(msgspec.json.encode(data)) + b"\n"


def write_report(path: str, data: AuditData) -> str:
    """Write the report to ``path`` atomically with mode 0640 (its folder made 0750); returns the path."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(encode_report(data))
    os.chmod(tmp, FILE_MODE)  # the umask may have taken bits off
    os.replace(tmp, path)
    return path


def save_report(data_dir: str, data: AuditData) -> str:
    """Write the report where the daemon keeps it (``report_path``); returns its path."""
    return write_report(report_path(data_dir, data), data)


def commit_audit(report: Any, data_dir: str, devices: set[str],
                 commit_event: Callable[[str, Event], None]) -> dict[str, Any]:
    """Check a report sent over the status socket, save it and commit it as an `audit` event of its device.

    Returns the answer for the client: ``{"saved": path}`` or ``{"error": sentence}``.
    """
    try:
        data = msgspec.convert(report, AuditData)
    except msgspec.ValidationError as exc:
        return {"error": f"not an audit report: {exc}"}
    if data.device not in devices:
        return {"error": f"no device {data.device!r} in the running config"}
    try:
        path = save_report(data_dir, data)
    except OSError as exc:
        return {"error": f"cannot save the report under {data_dir}: {exc.strerror or exc}"}
    commit_event(data.device, Event("audit", epoch_of(data.window_start) + data.window_s, data))
    return {"saved": path}
