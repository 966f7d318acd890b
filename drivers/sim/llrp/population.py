"""The tagged items a simulated reader sees: where they are, and how they move, sell and arrive.

EPCs are SGTIN-96 (TDS 1.x, section 14.5.1): header 0x30, filter (3 bits), partition (3 bits),
company prefix and item reference (44 bits split by the partition table), serial (38 bits).
A few tags carry non-GS1 EPCs, as real stores have (asset tags, old encodings).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# partition -> (company prefix bits, company digits, item reference bits)
PARTITIONS = {0: (40, 12, 4), 1: (37, 11, 7), 2: (34, 10, 10), 3: (30, 9, 14), 4: (27, 8, 17), 5: (24, 7, 20),
              6: (20, 6, 24)}


def sgtin96(company_prefix: str, item_reference: str, serial: int, filter_value: int = 1) -> str:
    """Hex EPC of an SGTIN-96; ``item_reference`` includes the indicator digit."""
    partition = next(p for p, (_, digits, _) in PARTITIONS.items() if digits == len(company_prefix))
    company_bits, _, item_bits = PARTITIONS[partition]
    value = 0x30
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << company_bits) | int(company_prefix)
    value = (value << item_bits) | int(item_reference)
    value = (value << 38) | serial
    return f"{value:024X}"


@dataclass
class Item:
    """One tagged item on the floor."""

    epc: str
    antenna: int
    present: bool = True


@dataclass
class Population:
    """Items spread over antennas, with sales, moves and arrivals on demand or at random."""

    antennas: int = 4
    items: list[Item] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    next_serial: int = 1000
    exit_antenna: int | None = None
    """When set, items are placed on the other antennas and a sold item passes this one once."""
    products: list[tuple[str, str]] = field(default_factory=lambda: [
        ("0614141", "812345"), ("0614141", "812346"), ("0614141", "800001"), ("4012345", "012345"),
        ("4012345", "099999"), ("0037000", "030113")])

    @classmethod
    def generate(cls, tags: int, antennas: int = 4, seed: int = 1, non_gs1: int = 4,
                 exit_antenna: int | None = None) -> Population:
        """``tags`` items over ``antennas``, ``non_gs1`` of them with non-GS1 EPCs."""
        population = cls(antennas=antennas, rng=random.Random(seed), exit_antenna=exit_antenna)
        for _ in range(tags - non_gs1):
            population.arrive()
        for i in range(non_gs1):
            epc = f"E2801160600002{i:010X}"[:24]
            population.items.append(Item(epc, population.rng.choice(population.floor_antennas())))
        return population

    def floor_antennas(self) -> list[int]:
        """Antennas where items rest (all but the exit)."""
        return [a for a in range(1, self.antennas + 1) if a != self.exit_antenna]

    def arrive(self, antenna: int | None = None) -> Item:
        """A new item is put on the floor."""
        company, reference = self.rng.choice(self.products)
        self.next_serial += 1
        item = Item(sgtin96(company, reference, self.next_serial), antenna or self.rng.choice(self.floor_antennas()))
        self.items.append(item)
        return item

    def move(self, item: Item | None = None, antenna: int | None = None) -> Item:
        """An item is carried to another antenna's zone."""
        item = item or self.rng.choice([i for i in self.items if i.present and i.antenna != self.exit_antenna])
        choices = [a for a in self.floor_antennas() if a != item.antenna]
        item.antenna = antenna or self.rng.choice(choices)
        return item

    def sell(self, item: Item | None = None) -> Item:
        """An item leaves the store (no longer read anywhere)."""
        item = item or self.rng.choice([i for i in self.items if i.present and i.antenna != self.exit_antenna])
        if self.exit_antenna is not None:
            item.antenna = self.exit_antenna  # read once at the exit, gone at the next churn
        else:
            item.present = False
        return item

    def churn(self, moves: int = 1, sales: int = 1, arrivals: int = 1) -> None:
        """Random store life between two inventory rounds."""
        for item in self.items:
            if item.present and item.antenna == self.exit_antenna:
                item.present = False
        for _ in range(moves):
            self.move()
        for _ in range(sales):
            self.sell()
        for _ in range(arrivals):
            self.arrive()

    def reads(self, antennas: list[int], read_rate: float = 0.9,
              cross_read: float = 0.15) -> list[tuple[str, int, int]]:
        """One inventory round: (epc, antenna, rssi) for every read, cross-reads from neighbours included."""
        out = []
        for item in self.items:
            if not item.present:
                continue
            for antenna in antennas:
                distance = abs(antenna - item.antenna)
                if distance == 0 and self.rng.random() < read_rate:
                    out.append((item.epc, antenna, int(self.rng.gauss(-52, 4))))
                elif distance == 1 and self.rng.random() < cross_read:
                    out.append((item.epc, antenna, int(self.rng.gauss(-71, 4))))
        return out
