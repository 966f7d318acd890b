"""The failover plan and the link's waits, against a fake clock and a fixed random source."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from gateway.mqtt.failover import FailoverPlan
from gateway.mqtt.link import MqttLink
from gateway.mqtt.settings import Endpoint, LinkSettings

A, B, C = Endpoint("a", 1, False), Endpoint("b", 2, False), Endpoint("c", 3, True)


class Draws(random.Random):
    """A random source whose ``uniform(lo, hi)`` answers ``lo + fraction * (hi - lo)``, the fractions in turn."""

    def __init__(self, *fractions: float) -> None:
        """Answer these fractions of each asked range, then the last one again."""
        super().__init__(0)
        self.fractions = list(fractions)
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        """The next fraction of [a, b]; every range asked is kept."""
        self.asked.append((a, b))
        fraction = self.fractions.pop(0) if len(self.fractions) > 1 else self.fractions[0]
        return a + fraction * (b - a)


def plan(*endpoints: Endpoint, spread: float = 10.0, rng: random.Random | None = None) -> FailoverPlan:
    """A plan with a 1 s minimum and 8 s maximum backoff."""
    return FailoverPlan(endpoints, spread_max_s=spread, backoff_min_s=1.0, backoff_max_s=8.0, rng=rng)


def test_the_first_attempt_waits_a_uniform_draw_from_the_startup_spread() -> None:
    """The first connect waits uniform(0, startup_delay_max_s), and goes to the first broker."""
    draws = Draws(0.25)
    first = plan(A, B, spread=10.0, rng=draws).next_attempt()
    assert first == (2.5, A)
    assert draws.asked == [(0.0, 10.0)]


def test_no_spread_means_no_wait_and_no_draw() -> None:
    """startup_delay_max_s = 0 connects at once."""
    draws = Draws(0.5)
    assert plan(A, spread=0.0, rng=draws).next_attempt() == (0.0, A)
    assert draws.asked == []


def test_failures_walk_the_list_without_waiting_and_back_off_between_rounds() -> None:
    """A refused broker moves on to the next at once; a whole failed round waits the backoff, growing."""
    p = plan(A, B, C, spread=0.0, rng=Draws(1.0))
    attempts = []
    for _ in range(7):
        attempts.append(p.next_attempt())
        p.failed()
    assert attempts == [(0.0, A), (0.0, B), (0.0, C), (1.0, A), (0.0, B), (0.0, C), (2.0, A)]


def test_a_session_resets_the_backoff() -> None:
    """After a session was up, the rounds start again from the smallest backoff."""
    p = plan(A, spread=0.0, rng=Draws(1.0))
    for _ in range(3):
        p.next_attempt()
        p.failed()
    assert p.upcoming()[0] == 4.0
    p.next_attempt()
    p.up()
    p.lost()
    assert p.next_attempt() == (1.0, A)


def test_a_lost_session_moves_on_and_waits_the_backoff_step_plus_a_fresh_spread() -> None:
    """A broker restart drops the whole fleet at once: each gateway draws its own spread again."""
    draws = Draws(0.0, 1.0, 0.5)
    p = plan(A, B, spread=10.0, rng=draws)
    assert p.next_attempt() == (0.0, A)  # first spread draw: 0
    p.up()
    p.lost()
    assert p.current == B  # the broker that dropped us is tried last
    assert p.next_attempt() == (1.0 + 5.0, B)  # backoff's first step (full draw of [0.5, 1]) + half of 10
    assert draws.asked == [(0.0, 10.0), (0.5, 1.0), (0.0, 10.0)]


def test_a_plan_needs_a_broker() -> None:
    """No endpoint is a programming error, said at once."""
    with pytest.raises(ValueError, match="at least one broker"):
        FailoverPlan((), spread_max_s=0, backoff_min_s=1, backoff_max_s=2)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_link_sleeps_the_drawn_startup_delay_before_its_first_connect() -> None:
    """The link asks its clock for exactly the plan's waits: the spread first, then the failover order."""
    first, second = dead_port(), dead_port()
    settings = LinkSettings(host="127.0.0.1", port=first, tls=False, client_id="t-delay", connect_timeout_s=2,
                            failover=(Endpoint("127.0.0.1", second, False),), startup_delay_max_s=30.0,
                            reconnect_min_s=0.5, reconnect_max_s=4.0)
    slept: list[float] = []
    tried: list[str] = []

    async def fake_sleep(seconds: float) -> None:
        """Record the wait instead of waiting; stop the test after the second round's backoff."""
        slept.append(seconds)
        tried.append(str(link.broker))
        if len(slept) == 2:
            raise asyncio.CancelledError

    link = MqttLink(settings, on_up=lambda: None, on_down=lambda why: None, on_ack=lambda mid, ok: None,
                    on_message=lambda topic, payload, props: None, oldest_inflight=lambda: None,
                    sleep=fake_sleep, rng=Draws(0.4, 1.0))
    with pytest.raises(asyncio.CancelledError):
        await link.run()
    # 0.4 of [0, 30] before the first connect; both brokers refuse, then the backoff (full draw of [0.25, 0.5])
    assert slept == [12.0, 0.5]
    assert tried == [f"127.0.0.1:{first}", f"127.0.0.1:{first}"]
    assert link.stats.reconnects == 1 and f"127.0.0.1:{second}" in (link.stats.last_error or "")
    assert link.stats.connects == 0
