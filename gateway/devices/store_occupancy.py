"""Process-wide store occupancy: one count per occupancy name, shared by every door counting it, kept over restarts.

A store with two doors has one occupancy, not one per door: people come in by one and leave by the
other. Every device with store occupancy (serial counters, cameras) ``join``s ``OCCUPANCIES`` under its
``occupancy_name`` ("store" by default) and gets an ``OccupancyMember``: its handle on the one
``SharedOccupancy`` of that name, whose pure count is a ``StoreOccupancy`` (``pipelines/occupancy.py``).

- Counting: every member's ins and outs go to the one count, under a lock (a camera's engine runs in
  an executor thread, a serial counter on the loop). A limit alert is returned to the member whose
  crossing (or daily reset, or empty zone) made it, so it is published once, by that device.
- Publishing: the periodic store-scope ``occupancy`` event is published by one member per name, the
  first in sorted id order of the members that produced an interval within two of their intervals; only
  when none has, the first of those that joined within two intervals (start, reload). A counter that has
  read nothing since it started makes no interval, so it never silences the others. The others return no
  periodic event; an interval end is published once, and only when later than the last one published
  (at a hand-over the same end comes from two members, less than a second apart).
- Settings: the daily reset time and the limit are the group's, from whichever member sets them
  (``config check`` refuses two that differ); each camera's empty zone is its own watch, and any of
  them resets the common count.
- Restart: the count is saved (``occupancy_state.py``) with each periodic event and when a member stops,
  with the cumulative reading of every serial-counter door it includes, and restored on start while
  ``same_business_day`` (its next daily reset found from the save time). After a crash, a door's first
  occupancy delta is taken against its saved reading, not its footfall baseline: counted once.
- Saving: a snapshot is taken under the lock with a sequence number and written in order (an older one
  is never written after a newer); from the event loop's thread the write goes to an executor.
- Reload: ``configure`` takes the new config's groups; a stopped device's membership goes
  (``close``); the count stays in RAM for the devices that come back, since it is the store's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.devices.context import DeviceContext
from gateway.devices.occupancy_state import SavedOccupancy, load_state, save_state, state_path
from gateway.pipelines import Event
from gateway.pipelines.occupancy import (
    DoorReading,
    EmptyZoneWatch,
    OccupancySettings,
    StoreOccupancy,
    parse_hhmm,
    same_business_day,
)

log = logging.getLogger("storegw.occupancy")
SAME_MOMENT_S = 1.0
"""Periodic events closer than this are one interval's end (intervals are at least 1 s): published once."""
CLOCK_BACK_S = 2 * 3600.0 + SAME_MOMENT_S
"""An interval end this far before the last one published means the clock was set back (two of the
longest intervals): publishing starts again from it rather than waiting for the old time to come back."""


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
    """One device in a shared occupancy: its handle, and whether it makes intervals."""

    member: OccupancyMember
    interval_s: float
    joined_at: float
    last_periodic: float | None = None

    def producing(self, now: float) -> bool:
        """Produced an interval within the last two of its intervals."""
        return self.last_periodic is not None and now - self.last_periodic <= 2 * self.interval_s + SAME_MOMENT_S

    def just_joined(self, now: float) -> bool:
        """Joined within the last two of its intervals and produced none yet."""
        return self.last_periodic is None and now - self.joined_at <= 2 * self.interval_s + SAME_MOMENT_S


@dataclass(frozen=True)
class _Snapshot:
    """What one save writes, numbered in the order it was taken under the lock."""

    seq: int
    saved: SavedOccupancy


class SharedOccupancy:
    """The one count of an occupancy name: thread-safe, saved, restored."""

    def __init__(self, name: str, path: str, settings: OccupancySettings, now: float) -> None:
        """A count of 0 made at ``now``, or the saved one if it is of the same business day."""
        self.name = name
        self.path = path
        self.store = StoreOccupancy(settings, now)
        self.readings: dict[str, DoorReading] = {}
        """Each serial-counter door's cumulative reading the count includes (saved with it)."""
        self._memberships: dict[str, _Membership] = {}
        self.published_at: float | None = None
        self.idle_since: float | None = None
        """When the last member left (a reload): the count waits in RAM for the devices to come back."""
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._save_failed = False
        self._taken = 0
        """Sequence number of the latest snapshot taken (under ``_lock``)."""
        self._written = 0
        """Sequence number of the latest snapshot written (under ``_save_lock``)."""
        self._restore(now)

    def _restore(self, now: float) -> None:
        """Take the saved count if it is of the same business day; a corrupt file is said once and ignored."""
        try:
            saved = load_state(self.path)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("store occupancy %r: ignoring unreadable %s (%s); counting from 0", self.name, self.path, exc)
            return
        settings = self.store.settings
        if same_business_day(saved.saved_at, now, settings.reset_at, settings.tz):
            self.store.restore(saved.count, saved.saved_at)  # a reset between the save and the first step applies
            self.readings = dict(saved.doors)  # only a count that is kept includes them
            log.info("store occupancy %r: %d people restored (saved %.0f s ago)", self.name, saved.count,
                     now - saved.saved_at)
        else:
            log.info("store occupancy %r: the saved count is of an earlier business day; counting from 0", self.name)

    # ---- membership (the registry's side) ----------------------------------------------
    def add(self, member: OccupancyMember, interval_s: float, now: float, settings: OccupancySettings) -> None:
        """A device joins; after a spell without members the count is kept only if still the same business day."""
        with self._lock:
            if not self._memberships and self.idle_since is not None:
                if not same_business_day(self.idle_since, now, settings.reset_at, settings.tz):
                    self.store.restore(0, now)
                    self.readings.clear()  # a new day's count includes no door's old reading
                self.idle_since = None
            member.saved_reading = self.readings.get(member.device_id)
            # a device that joins again replaces its old handle
            self._memberships[member.device_id] = _Membership(member, interval_s, now)
            self.store.configure(settings)

    def remove(self, member: OccupancyMember, now: float) -> bool:
        """A device leaves (its runner stopped); False if a newer handle of the same device had replaced it."""
        with self._lock:
            held = self._memberships.get(member.device_id)
            if held is None or held.member is not member:
                return False
            del self._memberships[member.device_id]
            if not self._memberships:
                self.idle_since = now
        return True

    def settings_of_members(self) -> list[OccupancySettings]:
        """What the current members set, in join order."""
        with self._lock:
            return [membership.member.settings for membership in self._memberships.values()]

    @property
    def members(self) -> dict[str, OccupancyMember]:
        """The devices counting into this occupancy now, by id."""
        with self._lock:
            return {device_id: m.member for device_id, m in self._memberships.items()}

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

    def counted(self, device_id: str, people_in: int, people_out: int, now: float,
                reading: DoorReading) -> list[Event]:
        """A door counter's reading: its people and the reading now included, together (a save sees both or none)."""
        with self._lock:
            events = self.store.counted(people_in, people_out, now, reading)
            self.readings[device_id] = reading
            return events

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
        """The member that publishes the periodic event at ``now``: the first id of those producing intervals,
        or of those just joined when none is."""
        with self._lock:
            return self._publisher(now)

    def _publisher(self, now: float) -> str | None:
        """``publisher`` with the lock held."""
        for wanted in (_Membership.producing, _Membership.just_joined):
            ids = [device_id for device_id, membership in self._memberships.items() if wanted(membership, now)]
            if ids:
                return min(ids)
        return None

    def _published(self, now: float) -> bool:
        """Was the interval end ``now`` (or a later one) published already? The clock set back starts afresh."""
        last = self.published_at
        return last is not None and last - CLOCK_BACK_S < now < last + SAME_MOMENT_S

    def periodic(self, device_id: str, now: float) -> list[Event]:
        """The periodic event if ``device_id`` publishes it now (and then the count is saved); else nothing."""
        with self._lock:
            membership = self._memberships.get(device_id)
            if membership is None:
                return []  # stopped: its last interval's count is another member's to publish
            membership.last_periodic = now
            if self._publisher(now) != device_id:
                return []
            if self._published(now):
                return []  # this end (or a later one) came already from the member before the hand-over
            self.published_at = now
            event, snapshot = self.store.event(now), self._snapshot(now)
        self._write_soon(snapshot)
        return [event]

    def save(self, now: float) -> None:
        """Keep the count on disk now (a member stops: the process may end right after)."""
        with self._lock:
            snapshot = self._snapshot(now)
        self._write(snapshot)

    def _snapshot(self, now: float) -> _Snapshot:
        """The count and the readings it includes, numbered; call with the lock held."""
        self._taken += 1
        return _Snapshot(self._taken, SavedOccupancy(self.store.count, now, dict(self.readings)))

    def _write_soon(self, snapshot: _Snapshot) -> None:
        """Write ``snapshot`` off the event loop when called on it (a serial counter's tick), else here (a camera's
        engine thread); the order of writes is kept by ``_write`` either way."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(snapshot)
            return
        loop.run_in_executor(None, self._write, snapshot)

    def _write(self, snapshot: _Snapshot) -> None:
        """Write ``snapshot`` unless a newer one was; a failure is said once (until a save works) and never stops
        counting."""
        with self._save_lock:
            if snapshot.seq <= self._written:
                return  # a newer count is on disk already (a stop-time save overtook this one)
            try:
                save_state(self.path, self.name, snapshot.saved)
            except OSError as exc:
                if not self._save_failed:
                    log.warning("store occupancy %r: cannot save to %s (%s); a restart now starts at 0",
                                self.name, self.path, exc)
                self._save_failed = True
                return
            self._written = snapshot.seq
            self._save_failed = False


class OccupancyMember:
    """A device's share of a store occupancy: what its pipeline calls, as it would a ``StoreOccupancy`` of its own."""

    def __init__(self, shared: SharedOccupancy, device_id: str, settings: OccupancySettings,
                 registry: OccupancyRegistry) -> None:
        """``device_id``'s handle on ``shared``, with the device's own ``settings``; not joined until ``add``."""
        self.shared = shared
        self.registry = registry
        self.device_id = device_id
        self.settings = settings
        """The device's own settings: its empty zone and empty_reset_s are watched here, for this device."""
        self._empty = EmptyZoneWatch()
        self.closed = False
        self.saved_reading: DoorReading | None = None
        """This door counter's reading the count already includes (set on joining; None for a camera)."""

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

    def counted(self, people_in: int, people_out: int, now: float, reading: DoorReading) -> list[Event]:
        """This door counter's reading: its people, and the reading the count now includes (saved with it)."""
        return self.shared.counted(self.device_id, people_in, people_out, now, reading)

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
        """No occupancy yet: each is made when its first device joins."""
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
