"""Process-wide store occupancy: one count per occupancy name, shared by every door counting it, kept over restarts.

A store with two doors has one occupancy, not one per door: people come in by one and leave by the
other. Every device with store occupancy (serial counters, cameras) ``join``s ``OCCUPANCIES`` under its
``occupancy_name`` ("store" by default) and gets an ``OccupancyMember``: its handle on the one
``SharedOccupancy`` of that name, whose pure count is a ``StoreOccupancy`` (``pipelines/occupancy.py``).

- Counting: every member's ins and outs go to the one count, under a lock (a camera's engine runs in
  an executor thread, a serial counter on the loop). A limit alert is returned to the member whose
  crossing (or daily reset, or empty zone) made it, so it is published once, by that device.
- Publishing: the periodic store-scope ``occupancy`` event is published by one member per name, the
  first in sorted id order of the members that are making intervals (joined or produced one within two
  of their intervals): a counter that has read nothing since it started does not silence the others.
  The others return no periodic event; two publications less than a second apart (the same interval's
  end, at a hand-over) are one.
- Settings: the daily reset time and the limit are the group's, from whichever member sets them
  (``config check`` refuses two that differ); each camera's empty zone is its own watch, and any of
  them resets the common count.
- Restart: the count is saved atomically to ``{data_dir}/state/occupancy-<name>.json`` (0640) with
  each periodic event and when a member stops, and restored on start while ``same_business_day``.
- Reload: ``configure`` takes the new config's groups; a stopped device's membership goes
  (``close``); the count stays in RAM for the devices that come back, since it is the store's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.devices.context import DeviceContext
from gateway.pipelines import Event
from gateway.pipelines.occupancy import (
    EmptyZoneWatch,
    OccupancySettings,
    StoreOccupancy,
    parse_hhmm,
    same_business_day,
)

log = logging.getLogger("storegw.occupancy")
STATE_FILE_MODE = 0o640
SAME_MOMENT_S = 1.0
"""Periodic events closer than this are one interval's end (intervals are at least 1 s): published once."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


def state_path(data_dir: str, name: str) -> str:
    """Where the count of ``name`` is kept; a name that is no safe file name is spelt safe, with a hash."""
    if _SAFE_NAME.match(name):
        safe = name
    else:  # a slash or dots must not leave the folder; the hash keeps "a/b" and "a_b" apart
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        safe = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)[:48]}-{digest}"
    return os.path.join(data_dir, "state", f"occupancy-{safe}.json")


def load_state(path: str) -> tuple[int, float]:
    """The saved (count, saved_at); OSError when unreadable, ValueError when not a saved count."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    count, saved_at = raw.get("count"), raw.get("saved_at")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count {count!r} is not a number of people")
    if isinstance(saved_at, bool) or not isinstance(saved_at, int | float) or not math.isfinite(saved_at):
        raise ValueError(f"saved_at {saved_at!r} is not a time")
    return count, float(saved_at)


def save_state(path: str, name: str, count: int, saved_at: float) -> None:
    """Replace the saved count atomically (write, fsync, rename), mode 0640, in a 0750 folder."""
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"name": name, "count": count, "saved_at": saved_at}, handle)
        handle.flush()
        os.fsync(handle.fileno())  # a power cut right after must find the old file or the new, whole
    os.chmod(tmp, STATE_FILE_MODE)  # the umask may have taken bits off
    os.replace(tmp, path)


def merged_settings(name: str, group: Iterable[OccupancySettings]) -> OccupancySettings:
    """The common count's settings: the reset time and limit whichever member sets (config check makes them agree)."""
    settings = OccupancySettings(name=name)
    for member in group:
        if settings.reset_at is None and member.reset_at is not None:
            settings.reset_at, settings.tz = member.reset_at, member.tz
        if settings.limit is None and member.limit is not None:
            settings.limit = member.limit
    return settings


@dataclass
class _Membership:
    """One device in a shared occupancy: what it set, and whether it is making intervals."""

    settings: OccupancySettings
    interval_s: float
    joined_at: float
    last_periodic: float | None = None

    def making_intervals(self, now: float) -> bool:
        """Joined or produced an interval within the last two of its intervals."""
        latest = max(self.joined_at, self.last_periodic if self.last_periodic is not None else self.joined_at)
        return now - latest <= 2 * self.interval_s + SAME_MOMENT_S


class SharedOccupancy:
    """The one count of an occupancy name: thread-safe, saved, restored."""

    def __init__(self, name: str, path: str, settings: OccupancySettings, now: float) -> None:
        self.name = name
        self.path = path
        self.store = StoreOccupancy(settings)
        self.members: dict[str, OccupancyMember] = {}
        self._memberships: dict[str, _Membership] = {}
        self.restored = False
        """True when the count came from a save of the same business day."""
        self.published_at: float | None = None
        self.idle_since: float | None = None
        """When the last member left (a reload): the count waits in RAM for the devices to come back."""
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._save_failed = False
        self._restore(now)

    def _restore(self, now: float) -> None:
        """Take the saved count if it is of the same business day; a corrupt file is said once and ignored."""
        try:
            count, saved_at = load_state(self.path)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("store occupancy %r: ignoring unreadable %s (%s); counting from 0", self.name, self.path, exc)
            return
        settings = self.store.settings
        if same_business_day(saved_at, now, settings.reset_at, settings.tz):
            self.store.restore(count)
            self.restored = True
            log.info("store occupancy %r: %d people restored (saved %.0f s ago)", self.name, count, now - saved_at)
        else:
            log.info("store occupancy %r: the saved count is of an earlier business day; counting from 0", self.name)

    # ---- membership (the registry's side) ----------------------------------------------
    def add(self, member: OccupancyMember, interval_s: float, now: float, settings: OccupancySettings) -> None:
        """A device joins; after a spell without members the count is kept only if still the same business day."""
        with self._lock:
            if not self.members and self.idle_since is not None:
                if not same_business_day(self.idle_since, now, settings.reset_at, settings.tz):
                    self.store.restore(0)
                self.idle_since = None
            self.members[member.device_id] = member  # a device that joins again replaces its old handle
            self._memberships[member.device_id] = _Membership(member.settings, interval_s, now)
            self.store.configure(settings)

    def remove(self, member: OccupancyMember, now: float) -> bool:
        """A device leaves (its runner stopped); False if a newer handle of the same device had replaced it."""
        with self._lock:
            if self.members.get(member.device_id) is not member:
                return False
            del self.members[member.device_id]
            del self._memberships[member.device_id]
            if not self.members:
                self.idle_since = now
        return True

    def settings_of_members(self) -> list[OccupancySettings]:
        """What the current members set, in join order."""
        with self._lock:
            return [membership.settings for membership in self._memberships.values()]

    def configure(self, settings: OccupancySettings) -> None:
        """The group's settings changed (a member joined or left, a reload)."""
        with self._lock:
            self.store.configure(settings)

    # ---- counting (any member's thread) -------------------------------------------------
    def enter(self, n: int, now: float) -> list[Event]:
        """``n`` people came in by some door."""
        with self._lock:
            return self.store.enter(n, now)

    def leave(self, n: int, now: float) -> list[Event]:
        """``n`` people went out by some door; the count stops at 0."""
        with self._lock:
            return self.store.leave(n, now)

    def step(self, now: float) -> list[Event]:
        """The daily reset: made by the first member to step past the moment, its alert returned to it."""
        with self._lock:
            return self.store.step(now)

    def drift_reset(self, now: float) -> list[Event]:
        """A camera saw the shop floor empty long enough: the count goes to 0."""
        with self._lock:
            return self.store.drift_reset(now)

    @property
    def count(self) -> int:
        """People in the store now."""
        with self._lock:
            return self.store.count

    def publisher(self, now: float) -> str | None:
        """The member that publishes the periodic event at ``now``: the first id of those making intervals."""
        with self._lock:
            return self._publisher(now)

    def _publisher(self, now: float) -> str | None:
        """``publisher`` with the lock held."""
        making = [device_id for device_id, membership in self._memberships.items() if membership.making_intervals(now)]
        return min(making) if making else None

    def periodic(self, device_id: str, now: float) -> list[Event]:
        """The periodic event if ``device_id`` publishes it now (and then the count is saved); else nothing."""
        with self._lock:
            membership = self._memberships.get(device_id)
            if membership is None:
                return []  # stopped: its last interval's count is another member's to publish
            membership.last_periodic = now
            if self._publisher(now) != device_id:
                return []
            if self.published_at is not None and abs(now - self.published_at) < SAME_MOMENT_S:
                return []  # the same interval's end, already published by the member before the hand-over
            self.published_at = now
            event, count = self.store.event(now), self.store.count
        self.save(now, count)
        return [event]

    def save(self, now: float, count: int | None = None) -> None:
        """Keep the count on disk; a failure is said once (until a save works again) and never stops counting."""
        with self._save_lock:  # two members saving at once: the later snapshot is written last
            if count is None:
                count = self.count
            try:
                save_state(self.path, self.name, count, now)
            except OSError as exc:
                if not self._save_failed:
                    log.warning("store occupancy %r: cannot save to %s (%s); a restart now starts at 0",
                                self.name, self.path, exc)
                self._save_failed = True
                return
            self._save_failed = False


class OccupancyMember:
    """A device's share of a store occupancy: what its pipeline calls, as it would a ``StoreOccupancy`` of its own."""

    def __init__(self, shared: SharedOccupancy, device_id: str, settings: OccupancySettings,
                 registry: OccupancyRegistry) -> None:
        self.shared = shared
        self.registry = registry
        self.device_id = device_id
        self.settings = settings
        """The device's own settings: its empty zone and empty_reset_s are watched here, for this device."""
        self._empty = EmptyZoneWatch()
        self.closed = False

    @property
    def count(self) -> int:
        """People in the store now (every door's)."""
        return self.shared.count

    def enter(self, n: int, now: float) -> list[Event]:
        """``n`` people came in by this device's door(s); the alert, if this made one."""
        return self.shared.enter(n, now)

    def leave(self, n: int, now: float) -> list[Event]:
        """``n`` people went out by this device's door(s)."""
        return self.shared.leave(n, now)

    def step(self, now: float, zone_empty: bool | None = None) -> list[Event]:
        """The daily reset, and this camera's empty-zone correction of the common count."""
        events = self.shared.step(now)
        if (zone_empty is not None and self.settings.empty_zone is not None
                and self._empty.update(now, zone_empty, self.settings.empty_reset_s)):
            events += self.shared.drift_reset(now)
        return events

    def periodic(self, now: float) -> list[Event]:
        """The store-scope event of an interval's end, if this device is the one that publishes it."""
        return self.shared.periodic(self.device_id, now)

    def close(self, now: float) -> None:
        """The device's runner stops: save the count, leave the group (the count stays the store's)."""
        if self.closed:
            return
        self.closed = True
        self.registry.leave(self, now)


class OccupancyRegistry:
    """The shared occupancies of this process, by data_dir and name, and the groups the config declares."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shared: dict[tuple[str, str], SharedOccupancy] = {}
        self._declared: dict[str, list[OccupancySettings]] = {}

    def configure(self, devices: Iterable[Any]) -> None:
        """The config's groups (start, reload): each name's settings are known before any of its devices joins."""
        declared: dict[str, list[OccupancySettings]] = {}
        for device in devices:
            settings = occupancy_settings(device) if getattr(device, "enabled", True) else None
            if settings is not None:
                declared.setdefault(settings.name, []).append(settings)
        with self._lock:
            self._declared = declared
            for shared in self._shared.values():
                shared.configure(self._settings(shared.name, shared.settings_of_members()))

    def _settings(self, name: str, members: list[OccupancySettings]) -> OccupancySettings:
        """The group's settings: the config's declaration first, then what running members set."""
        return merged_settings(name, [*self._declared.get(name, []), *members])

    def join(self, device_id: str, settings: OccupancySettings, data_dir: str, now: float,
             interval_s: float = 60.0) -> OccupancyMember:
        """Hand ``device_id`` its share of the occupancy ``settings.name`` (made, and restored, on first use)."""
        key = (os.path.abspath(data_dir), settings.name)
        with self._lock:
            shared = self._shared.get(key)
            if shared is None:
                group = self._settings(settings.name, [settings])
                shared = self._shared[key] = SharedOccupancy(settings.name, state_path(data_dir, settings.name),
                                                             group, now)
            member = OccupancyMember(shared, device_id, settings, self)
            group = self._settings(settings.name, [*shared.settings_of_members(), settings])
            shared.add(member, interval_s, now, group)
        return member

    def leave(self, member: OccupancyMember, now: float) -> None:
        """``member`` stops: its count is saved, its settings no longer apply."""
        shared = member.shared
        with self._lock:
            if shared.remove(member, now):
                shared.configure(self._settings(shared.name, shared.settings_of_members()))
        shared.save(now)

    def get(self, data_dir: str, name: str = "store") -> SharedOccupancy | None:
        """The shared occupancy of ``name`` under ``data_dir``, if any device joined it (status, tests)."""
        with self._lock:
            return self._shared.get((os.path.abspath(data_dir), name))

    def clear(self) -> None:
        """Forget every shared occupancy and declaration (tests)."""
        with self._lock:
            self._shared.clear()
            self._declared.clear()


OCCUPANCIES = OccupancyRegistry()


def occupancy_settings(cfg: Any) -> OccupancySettings | None:
    """A device config's store-occupancy settings (serial counter or camera), None when it keeps none."""
    if not getattr(cfg, "counts_store_occupancy", False):
        return None
    reset_at = getattr(cfg, "occupancy_reset_at", None)
    return OccupancySettings(name=getattr(cfg, "occupancy_name", "store"),
                             reset_at=parse_hhmm(reset_at) if reset_at else None,
                             empty_zone=getattr(cfg, "occupancy_empty_zone", None),
                             empty_reset_s=getattr(cfg, "empty_reset_s", 300.0),
                             limit=getattr(cfg, "occupancy_limit", None))


def join_store_occupancy(cfg: Any, ctx: DeviceContext) -> OccupancyMember | None:
    """The runner's side: this device's share of its store occupancy, or None when it keeps none."""
    settings = occupancy_settings(cfg)
    if settings is None:
        return None
    return OCCUPANCIES.join(ctx.device_id, settings, ctx.data_dir, ctx.clock(),
                            interval_s=getattr(cfg, "interval_s", 60.0))
