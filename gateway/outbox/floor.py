"""Where the sequence goes on when no local file remembers it: above every number ever issued.

The database's AUTOINCREMENT counter is the first source, the state file's reservation the
second. When both are lost but the directory shows numbers were issued here before (the
hidden marker below, which ``rm outbox.db*`` and ``rm *`` both leave, a set-aside corrupt
file, or an unreadable state file), the floor comes from the wall clock:
``(unix_time_s - 1,700,000,000) * 20,000``. The outbox commits at most about 8,000 events a
second, so by any time ``t`` it cannot have issued more numbers than this floor. A clock that
is obviously wrong (before this code was written, or before the newest file in the
directory: a Pi has no RTC) is refused rather than trusted.
"""

from __future__ import annotations

import datetime as dt
import os

CLOCK_EPOCH_S = 1_700_000_000
NUMBERS_PER_SECOND = 20_000
"""Comfortably more than the outbox can commit in a second (measured: about 8,000)."""
WRITTEN_AFTER_S = 1_793_491_200
"""2026-11-01T00:00:00Z: this code did not exist before, so a clock saying earlier is wrong.
(`gateway/buildinfo.py` stamps the commit, not its date; this stands in for a build date.)"""


class ClockUntrusted(Exception):
    """The sequence can only continue from the clock, and the clock is obviously wrong."""


def marker_path(db_path: str) -> str:
    """The hidden file that says "this directory's outbox has numbered events"."""
    folder, name = os.path.split(os.path.abspath(db_path))
    return os.path.join(folder, f".{name}.numbered")


def mark(db_path: str) -> None:
    """Create the marker durably (before the first number is committed); raises OSError."""
    path = marker_path(db_path)
    if os.path.exists(path):
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("storegw: sequence numbers were issued from the outbox in this directory; keep this file\n")
        handle.flush()
        os.fsync(handle.fileno())
    folder = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def touch(db_path: str) -> None:
    """Bring the marker's time up to now, so a clock later set back is caught; never raises."""
    try:
        os.utime(marker_path(db_path))
    except OSError:
        pass


def has_history(db_path: str) -> bool:
    """Whether numbers may have been issued from an outbox at ``db_path`` before."""
    folder, name = os.path.split(os.path.abspath(db_path))
    try:
        entries = os.listdir(folder)
    except OSError:
        return False
    return any(entry in (f".{name}.numbered", f"{name}.state.json", f"{name}.state.json.tmp")
               or entry.startswith(f"{name}.corrupt-") for entry in entries)


def newest_entry(folder: str) -> tuple[str, float]:
    """The newest modification time among ``folder`` and the entries in it, and whose it is."""
    newest = (folder, 0.0)
    try:
        newest = (folder, os.stat(folder).st_mtime)
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                if mtime > newest[1]:
                    newest = (entry.path, mtime)
    except OSError:
        pass
    return newest


def _iso(epoch: float) -> str:
    """An epoch as a readable UTC time."""
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{epoch:.0f} s after 1970"


def check_clock(now: float, db_path: str) -> None:
    """Raise ClockUntrusted (one sentence: what is wrong; the caller says what to do) when ``now`` is wrong."""
    folder = os.path.dirname(os.path.abspath(db_path))
    path, newest = newest_entry(folder)
    if now >= WRITTEN_AFTER_S and now >= newest:
        return
    what = (f"the date this storegw was written ({_iso(WRITTEN_AFTER_S)})" if now < WRITTEN_AFTER_S
            else f"the time of {path} ({_iso(newest)})")
    raise ClockUntrusted(
        f"the clock says {_iso(now)}, before {what}, and both outbox files in {folder} are lost, so sequence "
        "numbers could only continue above a floor taken from a clock that is wrong")


def clock_floor(now: float) -> int:
    """The highest sequence number the gateway can have issued by wall time ``now``."""
    return max(0, int(now) - CLOCK_EPOCH_S) * NUMBERS_PER_SECOND
