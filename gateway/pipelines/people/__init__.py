"""Per-crossing rules that tell staff and children apart from customers (issue 13, items 1 and 2).

Each rule is pure (the clock comes in as ``now``) and keeps its per-track evidence in RAM, keyed by
track id, only while the track lives: nothing about an individual is stored or published. The footfall
pipeline calls ``observe`` for every frame a confirmed track is seen, ``classify`` at the moment it
counts a crossing (before ``forget``), and ``forget`` when the track ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the tracker needs numpy: badges and their claims serve serial counters on the base install
    from gateway.vision.tracker import Track


class CrossingRule(Protocol):
    """A rule that can take a counted crossing out of the customers' ``in``/``out``."""

    name: str
    """"staff" or "child": the prefix of the count the crossing goes to instead (``staff_in``, ...)."""

    def observe(self, track: Track, now: float) -> None:
        """A confirmed track seen in this frame: learn, keep per-track evidence."""
        ...

    def classify(self, track: Track, line: str, now: float, direction: str | None = None) -> bool:
        """True when this crossing of ``line`` by ``track`` is not a customer's (staff, or a child).

        ``direction``: "in"/"out" for a counted crossing; "front" for a shop-front question (a U-turn, a
        passer-by through a zone), which a rule answers without spending what a crossing would (a badge's
        claim); None when unknown."""
        ...

    def forget(self, track_id: int) -> None:
        """The track ended: drop its evidence (a rule may learn from it first)."""
        ...
