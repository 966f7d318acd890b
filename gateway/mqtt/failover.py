"""Which broker the link tries next, and how long it waits first: failover order, start-up spread, backoff.

Pure (no I/O, no clock): the link asks ``next_attempt()`` and reports what happened. The rules:

- the brokers are tried in list order; a failed attempt (refused, timeout, TLS, CONNACK failure) moves
  on to the next one at once;
- only after a whole round has failed does the link wait, with the jittered exponential backoff;
- the first attempt, and the first after a connection that was up is lost, wait a random time in
  ``[0, spread_max_s]`` first: a broker restart drops a whole fleet at the same instant, and the
  spread (plus the backoff's jitter) keeps it from coming back in lock-step;
- a lost connection moves on to the next broker too (the one that dropped us is tried last).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from drivers.base import Backoff
from gateway.mqtt.settings import Endpoint


class FailoverPlan:
    """The order and the waits of the link's connection attempts."""

    def __init__(self, endpoints: Sequence[Endpoint], *, spread_max_s: float, backoff_min_s: float,
                 backoff_max_s: float, rng: random.Random | None = None) -> None:
        """A plan over ``endpoints`` (at least one); ``rng`` is injectable so tests can fix the draws."""
        if not endpoints:
            raise ValueError("a failover plan needs at least one broker")
        self.endpoints = tuple(endpoints)
        self.spread_max_s = spread_max_s
        self._rng = rng or random.Random()
        self._backoff = Backoff(initial=backoff_min_s, maximum=backoff_max_s, rng=self._rng)
        self._index = 0
        self._failed_in_round = 0
        self._wait = self._spread()

    @property
    def current(self) -> Endpoint:
        """The broker in use, or the one the next attempt goes to."""
        return self.endpoints[self._index]

    def next_attempt(self) -> tuple[float, Endpoint]:
        """How long to wait before the next attempt (seconds), and the broker to try."""
        wait, self._wait = self._wait, 0.0
        return wait, self.current

    def upcoming(self) -> tuple[float, Endpoint]:
        """What ``next_attempt`` will answer, without taking it (for the log)."""
        return self._wait, self.current

    def failed(self) -> None:
        """The attempt did not give a session: the next broker, after the backoff if a whole round failed."""
        self._index = (self._index + 1) % len(self.endpoints)
        self._failed_in_round += 1
        if self._failed_in_round >= len(self.endpoints):
            self._failed_in_round = 0
            self._wait = self._backoff.next_delay()

    def up(self) -> None:
        """A session is established: the backoff starts again from its minimum."""
        self._failed_in_round = 0
        self._backoff.reset()

    def lost(self) -> None:
        """An established session ended: the next broker, after the backoff's first step and the spread."""
        self._index = (self._index + 1) % len(self.endpoints)
        self._failed_in_round = 0
        # The backoff step keeps a broker that accepts and then drops us at once from being hammered;
        # the spread keeps a fleet dropped together from reconnecting together.
        self._wait = self._backoff.next_delay() + self._spread()

    def _spread(self) -> float:
        """A uniformly random wait in [0, spread_max_s]."""
        return self._rng.uniform(0.0, self.spread_max_s) if self.spread_max_s > 0 else 0.0
