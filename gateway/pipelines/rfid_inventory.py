"""RFID inventory: tag reads -> item locations (arrived, moved, departed, left the store) and stock counts.

Pure and clock-injected. A location is (reader, antenna) mapped to a named zone. A tag's zone
follows the mean RSSI of its last ``window`` reads per location: it moves only when the new
location's mean beats the current one's by ``hysteresis_db``, an offset that decays with the
time since the tag was last read at its current location (after EdgeX's inventory service),
so cross-reads from a neighbouring antenna do not make it flap. A tag unseen for
``departed_after_s`` has departed; one read at an exit zone has left the store.

Memory: one Tag per EPC with an int8 ring of RSSI values per location it was read at;
``max_tags`` caps the table and evicts the longest-unseen tag as departed. bench/bench_rfid.py
measures the table at 100,000 unique tags (bench/RESULTS.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from gateway.events.envelope import rfc3339
from gateway.events.types.rfid import GtinCount, ItemData, StockCountData
from gateway.pipelines import Event
from gateway.pipelines.epc import decode_epc

Location = tuple[str, int]


@dataclass(frozen=True)
class InventorySettings:
    """Zones and thresholds of the inventory pipeline."""

    zones: dict[Location, str] = field(default_factory=dict)
    """(reader, antenna) -> zone name; unmapped antennas are zone "{reader}:{antenna}"."""
    exit_zones: frozenset[str] = frozenset()
    window: int = 20
    hysteresis_db: float = 6.0
    hysteresis_decay_s: float = 60.0
    departed_after_s: float = 600.0
    cycle_s: float = 60.0
    max_tags: int = 200_000


class LocationStats:
    """A tag's recent reads at one location: a ring of the last ``window`` RSSI values (int8)."""

    __slots__ = ("last_seen", "location", "n", "pos", "ring", "total")

    def __init__(self, location: Location, window: int) -> None:
        self.location = location
        self.ring = bytearray(window)
        self.pos = 0
        self.n = 0
        self.total = 0
        self.last_seen = 0.0

    def add(self, rssi: int, now: float) -> None:
        """One more read."""
        value = max(-128, min(127, rssi))
        if self.n == len(self.ring):
            old = self.ring[self.pos]
            self.total -= old - 256 if old > 127 else old
        else:
            self.n += 1
        self.ring[self.pos] = value & 0xFF
        self.total += value
        self.pos = (self.pos + 1) % len(self.ring)
        self.last_seen = now

    @property
    def mean(self) -> float:
        """Mean RSSI of the window."""
        return self.total / self.n if self.n else -128.0


class Tag:
    """What the pipeline knows about one EPC (kept small: there may be 100,000 of them)."""

    __slots__ = ("epc", "gtin", "last_seen", "left", "location", "locations", "seen_in_cycle")

    def __init__(self, epc: str, gtin: str | None, now: float) -> None:
        self.epc = epc
        self.gtin = gtin
        self.location: Location | None = None
        self.last_seen = now
        self.locations: list[LocationStats] = []
        self.seen_in_cycle = True
        self.left = False
        """Read at an exit: gone from stock until it is read again away from the exits."""

    def at(self, location: Location) -> LocationStats | None:
        """The stats of one location (a tag is read at a handful at most)."""
        for stats in self.locations:
            if stats.location == location:
                return stats
        return None


class InventoryPipeline:
    """Item events per read, stock counts per cycle."""

    def __init__(self, settings: InventorySettings) -> None:
        self.settings = settings
        self.tags: OrderedDict[str, Tag] = OrderedDict()
        self.cycle = 0
        self.cycle_start: float | None = None
        self.previous_counts: dict[str, dict[str, int]] = {}
        self.evicted = 0
        self.reads = 0
        self._gtins: dict[str, str] = {}
        self._locations: dict[Location, Location] = {}
        """One string object per GTIN, shared by all its tags."""

    def zone_of(self, location: Location) -> str:
        """The zone name of a location."""
        return self.settings.zones.get(location) or f"{location[0]}:{location[1]}"

    # ---- reads -------------------------------------------------------------------------
    def feed(self, reader: str, epc: str, antenna: int, rssi: float | None, now: float) -> list[Event]:
        """One tag read."""
        self.reads += 1
        if self.cycle_start is None:
            self.cycle_start = now
        location = self._locations.get((reader, antenna))
        if location is None:  # one tuple per location, shared by every tag read there
            location = self._locations[(reader, antenna)] = (reader, antenna)
        value = -70 if rssi is None else round(rssi)
        tag = self.tags.get(epc)
        events: list[Event] = []
        if tag is None:
            gtin = decode_epc(epc).gtin
            tag = Tag(epc, self._gtins.setdefault(gtin, gtin) if gtin else None, now)
            self.tags[epc] = tag
            if len(self.tags) > self.settings.max_tags:
                events += self._evict()
        else:
            self.tags.move_to_end(epc)
        tag.last_seen = now
        tag.seen_in_cycle = True
        zone = self.zone_of(location)
        if tag.left:
            if zone in self.settings.exit_zones:
                return events  # still passing the exit antennas: it has left already
            tag.left = False  # back in the store (a return, or carried back in)
            tag.location = None
            tag.locations.clear()
        stats = tag.at(location)
        if stats is None:
            stats = LocationStats(location, self.settings.window)
            tag.locations.append(stats)
        stats.add(value, now)
        if tag.location is None:
            tag.location = location
            events.append(self._item("arrived", tag, location, None, now))
        elif location != tag.location and self._beats(tag, location, now):
            previous = tag.location
            tag.location = location
            if self.zone_of(previous) != self.zone_of(location):
                events.append(self._item("moved", tag, location, previous, now))
        if self.zone_of(tag.location) in self.settings.exit_zones:
            events.append(self._item("left_store", tag, tag.location, None, now))
            tag.left = True
        return events

    def _beats(self, tag: Tag, candidate: Location, now: float) -> bool:
        """True when ``candidate``'s mean RSSI beats the current location's by the decaying offset."""
        assert tag.location is not None
        current = tag.at(tag.location)
        new = tag.at(candidate)
        if current is None or not current.n:
            return True
        since = now - current.last_seen
        offset = self.settings.hysteresis_db * math.exp(-since / self.settings.hysteresis_decay_s)
        return new is not None and new.mean > current.mean + offset

    def _item(self, action: str, tag: Tag, location: Location, previous: Location | None, now: float) -> Event:
        """An `item` event."""
        info = decode_epc(tag.epc)
        stats = tag.at(location)
        return Event("item", now, ItemData(
            action=action, epc=info.hex, gtin=info.gtin, serial=info.serial, scheme=info.scheme,  # type: ignore[arg-type]
            zone=self.zone_of(location), from_zone=self.zone_of(previous) if previous else None,
            reader=location[0], antenna=location[1],
            rssi=round(stats.mean, 1) if stats and stats.n else None, last_seen=rfc3339(tag.last_seen)))

    def _evict(self) -> list[Event]:
        """Drop the longest-unseen tag (reported as departed) to keep memory bounded."""
        _, tag = self.tags.popitem(last=False)
        self.evicted += 1
        if tag.location is None:
            return []
        return [self._item("departed", tag, tag.location, None, tag.last_seen)]

    # ---- time --------------------------------------------------------------------------
    def tick(self, now: float) -> list[Event]:
        """Departures, and the stock count when a cycle has ended."""
        events: list[Event] = []
        limit = now - self.settings.departed_after_s
        while self.tags:
            epc, tag = next(iter(self.tags.items()))
            if tag.last_seen >= limit:
                break
            del self.tags[epc]
            if tag.location is not None and not tag.left:
                events.append(self._item("departed", tag, tag.location, None, now))
        if self.cycle_start is not None and now - self.cycle_start >= self.settings.cycle_s:
            events += self.stock_counts(now)
        return events

    def stock_counts(self, now: float) -> list[Event]:
        """One `stock-count` event per zone for the cycle that ends now; starts the next cycle."""
        assert self.cycle_start is not None
        self.cycle += 1
        by_zone: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        non_gs1: dict[str, int] = defaultdict(int)
        known: dict[str, int] = defaultdict(int)
        seen: dict[str, int] = defaultdict(int)
        for tag in self.tags.values():
            if tag.location is None or tag.left:
                continue
            zone = self.zone_of(tag.location)
            known[zone] += 1
            seen[zone] += tag.seen_in_cycle
            tag.seen_in_cycle = False
            gtin = tag.gtin
            if gtin:
                by_zone[zone][gtin] += 1
            else:
                non_gs1[zone] += 1
        events = []
        zones = sorted(set(known) | set(self.previous_counts))
        for zone in zones:
            counts = by_zone.get(zone, {})
            previous = self.previous_counts.get(zone, {})
            rows = [GtinCount(gtin=g, count=counts.get(g, 0), delta=counts.get(g, 0) - previous.get(g, 0))
                    for g in sorted(set(counts) | set(previous))]
            events.append(Event("stock-count", now, StockCountData(
                zone=zone, cycle=self.cycle, interval_start=rfc3339(self.cycle_start),
                interval_s=round(max(now - self.cycle_start, 0.001), 3),
                coverage=round(seen[zone] / known[zone], 4) if known[zone] else 1.0,
                total=known[zone], non_gs1=non_gs1[zone], counts=rows)))
        self.previous_counts = {zone: dict(counts) for zone, counts in by_zone.items()}
        self.cycle_start = now
        return events
