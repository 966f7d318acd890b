"""Generate a BLE scene of a store as a recording: visitors, wall beacons, member apps, passers-by.

The output is the JSON-lines format of `storegw ble scan --record`, so the same recording runs
through `storegw ble replay`, the demo (via the replay scanner) and the tests. Visitors' phones
use random addresses that rotate every ``rotation_s`` (as phones do about every 15 minutes) and
advertise sparsely; passers-by stay a few seconds at the edge of range. ``Scene.truth`` says what
was generated, so a test can compare the pipeline's visits with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from drivers.ble.adverts import Advert, to_record
from drivers.ble.decoders import APPLE, EDDYSTONE_UUID, encode_eddystone_uid, encode_ibeacon

WALL_IBEACON_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
EDDYSTONE_NAMESPACE = "edd1ebeac04e5defa017"
MEMBER_APP_UUID = "5a4bcfce-174e-4bac-a814-092e77f6b7e5"
STAFF_BADGE_UUID = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
"""What every staff badge of the scene sends (a camera line's ``staff.badge_uuid``)."""


@dataclass
class Segment:
    """One address of one phone, in range from start to end."""

    address: str
    start: float
    end: float
    kind: str  # visitor | passer-by | member | staff


@dataclass
class Scene:
    """A generated recording and what it contains."""

    adverts: list[Advert]
    truth: list[Segment] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The recording, one JSON line per advert."""
        return [to_record(a) for a in self.adverts]

    def write(self, path: str) -> None:
        """Write the recording."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in self.lines())


def _random_address(rng: random.Random) -> str:
    """A random resolvable-looking private address (top bits 01)."""
    first = (rng.randrange(256) & 0x3F) | 0x40
    return ":".join(f"{b:02X}" for b in [first, *(rng.randrange(256) for _ in range(5))])


def generate(*, start: float = 1_763_800_000.0, minutes: float = 30.0, visitors: int = 20, passers_by: int = 30,
             members: int = 3, rotation_s: float = 900.0, seed: int = 1, max_gap_s: float = 15.0,
             dwell_range: tuple[float, float] = (90.0, 1500.0), staff_door_every_s: float | None = None,
             staff_at_door_s: float = 10.0) -> Scene:
    """A store scene of ``minutes`` minutes; with ``staff_door_every_s``, a staff badge passes the door that often."""
    rng = random.Random(seed)
    end = start + minutes * 60
    adverts: list[Advert] = []
    truth: list[Segment] = []

    def phone(kind: str, arrive: float, leave: float, rssi: float, payload: dict[int, bytes] | None = None) -> None:
        """Add the adverts of one phone (rotating its address) to the scene."""
        t = last = arrive
        address = _random_address(rng)
        segment_start = t
        next_rotation = arrive + rng.uniform(0.2, 1.0) * rotation_s
        while t < leave:
            if kind != "member" and t >= next_rotation:
                truth.append(Segment(address, segment_start, last, kind))
                address, segment_start = _random_address(rng), t
                next_rotation = t + rotation_s
            adverts.append(Advert(t=round(t, 3), address=address, rssi=int(rng.gauss(rssi, 3)),
                                  manufacturer_data=dict(payload or {}),
                                  name="Pixel 9" if kind == "visitor" and rng.random() < 0.1 else None))
            last = t
            t += rng.uniform(0.5, max_gap_s)
        truth.append(Segment(address, segment_start, last, kind))

    for _ in range(visitors):
        arrive = rng.uniform(start, max(start, end - dwell_range[0]))
        phone("visitor", arrive, min(end, arrive + rng.uniform(*dwell_range)), rng.uniform(-72, -60))
    for _ in range(passers_by):
        arrive = rng.uniform(start, end - 30)
        phone("passer-by", arrive, arrive + rng.uniform(3, 15), rng.uniform(-88, -80))
    for member in range(members):
        arrive = rng.uniform(start, end - 300)
        phone("member", arrive, min(end, arrive + rng.uniform(120, 900)), -65,
              {APPLE: encode_ibeacon(MEMBER_APP_UUID, 1, 100 + member)})
    for t in range(int(start), int(end), 2):
        adverts.append(Advert(t=t + 0.1, address="C0:FF:EE:00:00:01", rssi=int(rng.gauss(-62, 2)),
                              manufacturer_data={APPLE: encode_ibeacon(WALL_IBEACON_UUID, 7, 1)}))
        adverts.append(Advert(t=t + 1.1, address="C0:FF:EE:00:00:02", rssi=int(rng.gauss(-70, 2)),
                              service_data={EDDYSTONE_UUID: encode_eddystone_uid(EDDYSTONE_NAMESPACE, "0000000000a1")},
                              service_uuids=["0000feaa-0000-1000-8000-00805f9b34fb"]))
    if staff_door_every_s:
        # a staff badge near the door scanner (strong) for staff_at_door_s, twice a second, then gone
        for n, arrive in enumerate(range(int(start + staff_door_every_s / 2), int(end), int(staff_door_every_s))):
            address = f"C0:FF:EE:00:5A:{n % 256:02X}"
            ticks = int(staff_at_door_s * 2)
            adverts += [Advert(t=round(arrive + k / 2, 3), address=address, rssi=int(rng.gauss(-55, 2)),
                               manufacturer_data={APPLE: encode_ibeacon(STAFF_BADGE_UUID, 1, 1 + n % 4)})
                        for k in range(ticks)]
            truth.append(Segment(address, arrive, arrive + (ticks - 1) / 2, "staff"))
    adverts.sort(key=lambda a: a.t)
    return Scene(adverts, truth)
