"""The saved store occupancy: ``{data_dir}/state/occupancy-<name>.json``, kept across restarts, crashes included.

The file holds the count, when it was taken and, for every serial-counter door in it, the cumulative
reading the count includes (``doors``: id -> sensor_id, count_in, count_out). A door counter keeps its own
baseline (``{id}.counter.json``) only when its interval closes, so after a crash the footfall baseline may
be older or newer than the count; the first occupancy delta after a restart is taken from the door's
reading here instead, so nobody is counted twice and nobody since this save is lost. Cameras have no
reading (their crossings are live). Written atomically (write, fsync, rename), 0640 in a 0750 folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field

from gateway.pipelines.occupancy import DoorReading

STATE_FILE_MODE = 0o640
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


@dataclass
class SavedOccupancy:
    """A count as saved: how many, when, and each door counter's reading it includes."""

    count: int
    saved_at: float
    doors: dict[str, DoorReading] = field(default_factory=dict)


def state_path(data_dir: str, name: str) -> str:
    """Where the count of ``name`` is kept; a name that is no safe file name is spelt safe, with a hash."""
    if _SAFE_NAME.match(name):
        safe = name
    else:  # a slash or dots must not leave the folder; the hash keeps "a/b" and "a_b" apart
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        safe = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)[:48]}-{digest}"
    return os.path.join(data_dir, "state", f"occupancy-{safe}.json")


def _count(value: object) -> bool:
    """True for a non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _door_readings(raw: object) -> dict[str, DoorReading]:
    """The readings of ``doors`` that are whole; a damaged one is left out (that door counts its footfall delta)."""
    if not isinstance(raw, dict):
        return {}
    doors: dict[str, DoorReading] = {}
    for device_id, reading in raw.items():
        if isinstance(reading, dict) and isinstance(reading.get("sensor_id"), str) \
                and _count(reading.get("count_in")) and _count(reading.get("count_out")):
            doors[str(device_id)] = DoorReading(reading["sensor_id"], reading["count_in"], reading["count_out"])
    return doors


def load_state(path: str) -> SavedOccupancy:
    """The saved count; OSError when unreadable, ValueError when not a saved count."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    count, saved_at = raw.get("count"), raw.get("saved_at")
    if not _count(count):
        raise ValueError(f"count {count!r} is not a number of people")
    if isinstance(saved_at, bool) or not isinstance(saved_at, int | float) or not math.isfinite(saved_at):
        raise ValueError(f"saved_at {saved_at!r} is not a time")
    return SavedOccupancy(count, float(saved_at), _door_readings(raw.get("doors")))  # type: ignore[arg-type]


def save_state(path: str, name: str, saved: SavedOccupancy) -> None:
    """Replace the saved count atomically (write, fsync, rename), mode 0640, in a 0750 folder."""
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    tmp = path + ".tmp"
    doors = {device_id: {"sensor_id": r.sensor_id, "count_in": r.count_in, "count_out": r.count_out}
             for device_id, r in sorted(saved.doors.items())}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"name": name, "count": saved.count, "saved_at": saved.saved_at, "doors": doors}, handle)
        handle.flush()
        os.fsync(handle.fileno())  # a power cut right after must find the old file or the new, whole
    os.chmod(tmp, STATE_FILE_MODE)  # the umask may have taken bits off
    os.replace(tmp, path)
