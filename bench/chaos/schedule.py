"""The round schedule: which fault each round injects, and what runs instead of one the lab cannot inject."""

from __future__ import annotations

import random
from collections.abc import Sequence

from bench.chaos.faults import FAULTS

WEIGHTS = {"gateway-kill": 3, "broker-kill": 3, "blackhole": 2, "reset": 2, "partition": 2, "disk-full": 1,
           "reload": 2, "reload-invalid": 2, "replay-storm": 1, "storm+reload": 1, "broker+gateway-kill": 1,
           "cut+gateway-kill": 1}
"""How often each fault comes up after every available one has had its round."""
SUBSTITUTES = {"partition": "blackhole", "disk-full": "reset"}
"""What runs instead of a fault the lab cannot inject (the report says so)."""


def make_schedule(seed: int, rounds: int, available: Sequence[str], pool: Sequence[str] | None = None,
                  exact: Sequence[str] | None = None) -> list[str]:
    """The faults of each round: every available kind once (shuffled), then weighted draws; or ``exact``."""
    if exact:
        return [exact[i % len(exact)] for i in range(rounds)]
    kinds = [k for k in (pool or FAULTS) if k in available]
    if not kinds:
        raise ValueError("no fault kind is available")
    rng = random.Random(seed)
    first = kinds[:]
    rng.shuffle(first)
    schedule = first[:rounds]
    if rounds > len(schedule):
        schedule += rng.choices(kinds, weights=[WEIGHTS.get(k, 1) for k in kinds], k=rounds - len(schedule))
    return schedule


def resolve(fault: str, skipped: dict[str, str]) -> tuple[str, str | None]:
    """The fault to run for ``fault`` and, when it is substituted, why."""
    need = FAULTS[fault][1]
    if need is not None and need in skipped:
        return SUBSTITUTES[need], f"{fault} skipped ({skipped[need]}); {SUBSTITUTES[need]} instead"
    return fault, None
