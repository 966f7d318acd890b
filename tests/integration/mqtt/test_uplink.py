"""The uplink (MqttLink + Publisher) in-process against a real mosquitto, fed by a real outbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.events.envelope import source_of
from gateway.events.types.synthetic import SyntheticData
from gateway.mqtt.settings import LinkSettings
from gateway.mqtt.topics import answer_topic, command_filter, event_topic, state_topic
from gateway.mqtt.uplink import Uplink
from gateway.outbox import Outbox, QuotaPolicy
from tests.support.broker import Mosquitto, free_port
from tests.support.peers import Subscriber
from tests.support.waiting import until

BASE = "storegw/v1/store-t/gw-t"



def settings(port: int, client_id: str = "storegw-uplink-test") -> LinkSettings:
    """Settings as link_settings makes them: the state topic for birth and will, commands subscribed."""
    return LinkSettings(host="127.0.0.1", port=port, tls=False, client_id=client_id, max_inflight=5,
                        connect_timeout_s=3, reconnect_min_s=0.2, reconnect_max_s=1.0,
                        will_topic=state_topic(BASE), will_payload=b'{"online": false}',
                        subscriptions=(command_filter(BASE),))


def commit(outbox: Outbox, first: int, count: int) -> None:
    """Queue ``count`` synthetic events numbered from ``first``."""
    for n in range(first, first + count):
        outbox.submit("synthetic", "load", time.time(), SyntheticData(n=n), event_topic(BASE, "synthetic"))


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    """A real outbox with its writer running."""
    box = Outbox(str(tmp_path / "o.db"), source=source_of("store-t", "gw-t"), quota=QuotaPolicy(), batch_max=50)
    await box.open()
    writer = asyncio.create_task(box.run())
    yield box
    writer.cancel()
    await asyncio.wait([writer], timeout=10)
    await box.close()


@pytest.fixture
def subscriber(mosquitto: Mosquitto) -> Iterator[Subscriber]:
    """A subscriber to everything of the gateway, its subscription in place."""
    sub = Subscriber(mosquitto.port, f"{BASE}/#")
    probe = f"{BASE}/cmd-probe"  # "/cmd" keeps it out of sub.events()

    def arrived() -> bool:
        """Publish a probe and see whether it came back (the subscription is acknowledged)."""
        sub.publish(probe, b"{}")
        time.sleep(0.05)
        return bool(sub.on_topic("/cmd-probe"))

    deadline = time.monotonic() + 20
    while not arrived():
        assert time.monotonic() < deadline, "the subscriber never got its subscription"
    yield sub
    sub.close()


def states(sub: Subscriber) -> list[dict[str, Any]]:
    """Every state message received."""
    return [json.loads(p) for p in sub.on_topic("/state")]


async def test_committed_events_reach_the_broker_in_order_and_are_acked(outbox: Outbox, subscriber: Subscriber,
                                                                         mosquitto: Mosquitto) -> None:
    """A backlog and live events go out in sequence order; each PUBACK acks its row; stop says why."""
    commit(outbox, 0, 40)  # committed before the uplink exists: the backlog
    assert await outbox.flush(30)
    uplink = Uplink(outbox, settings(mosquitto.port))
    uplink.start()
    try:
        await until(lambda: states(subscriber), what="the birth")
        commit(outbox, 40, 60)  # live
        await until(lambda: len(subscriber.events()) >= 100, what="100 events at the subscriber")
        await until(lambda: uplink.publisher.acked == 100, what="100 PUBACKs")
        assert await outbox.flush(30)
        assert outbox.pending == 0
    finally:
        await uplink.stop("shutdown")
    assert uplink.stopped and not uplink.connected
    await until(lambda: len(states(subscriber)) >= 2, what="the offline state")
    events = subscriber.events()
    assert [int(event["sequence"]) for event in events] == list(range(1, 101))
    assert [event["data"]["n"] for event in events] == list(range(100))
    assert {event["source"] for event in events} == {"/stores/store-t/gateways/gw-t"}
    birth, offline = states(subscriber)[:2]
    assert birth["online"] is True and birth["boot"] == outbox.boot
    assert offline["online"] is False and offline["reason"] == "shutdown"


async def test_answers_and_replays_go_out_through_the_window(outbox: Outbox, subscriber: Subscriber,
                                                             mosquitto: Mosquitto) -> None:
    """An answer is published on its topic; a replay sends its copies and resolves with the count."""
    commit(outbox, 0, 20)
    uplink = Uplink(outbox, settings(mosquitto.port))
    uplink.start()
    try:
        await until(lambda: len(subscriber.events()) >= 20, what="the first delivery")
        uplink.answer(answer_topic(BASE, "config"), b'{"ok": true, "request_id": "a1"}')
        replay = uplink.replay(3, 12)
        done = await asyncio.wait_for(replay.done, 30)
        await until(lambda: subscriber.on_topic("/cmd-res/config"), what="the answer")
        await until(lambda: len(subscriber.events()) >= 30, what="the replayed copies")
    finally:
        await uplink.stop("shutdown")
    assert done.replayed == 10 and not done.missing
    assert json.loads(subscriber.on_topic("/cmd-res/config")[0]) == {"ok": True, "request_id": "a1"}
    copies = [int(event["sequence"]) for event in subscriber.events()[20:]]
    assert copies == list(range(3, 13))


async def test_commands_arrive_at_the_message_handler(outbox: Outbox, subscriber: Subscriber,
                                                      mosquitto: Mosquitto) -> None:
    """The uplink subscribes to the command topics and hands each command to its handler."""
    received: list[tuple[str, bytes]] = []

    def on_message(topic: str, payload: bytes, properties: Any) -> None:
        """Record a command."""
        received.append((topic, payload))

    uplink = Uplink(outbox, settings(mosquitto.port), on_message=on_message)
    uplink.start()
    try:
        await until(lambda: states(subscriber), what="the birth")
        await until(lambda: uplink.connected, what="the link up")
        await asyncio.to_thread(subscriber.publish, f"{BASE}/cmd/rebirth", b"{}")
        await until(lambda: received, what="the command")
    finally:
        await uplink.stop("shutdown")
    assert received == [(f"{BASE}/cmd/rebirth", b"{}")]


async def test_a_new_uplink_takes_over_the_answers_the_stopped_one_left(outbox: Outbox, subscriber: Subscriber,
                                                                        mosquitto: Mosquitto) -> None:
    """An answer queued while no broker answered goes out through the uplink that replaced it (reload)."""
    unreachable = Uplink(outbox, settings(free_port(), "storegw-unreachable"))
    unreachable.start()
    unreachable.answer(answer_topic(BASE, "rebirth"), b'{"ok": true, "request_id": "kept"}')
    await unreachable.stop("reconfiguring")
    assert unreachable.answers_waiting() == 1
    uplink = Uplink(outbox, settings(mosquitto.port), previous=unreachable)
    assert unreachable.answers_waiting() == 0 and uplink.answers_waiting() == 1
    uplink.start()
    try:
        await until(lambda: subscriber.on_topic("/cmd-res/rebirth"), what="the answer handed over")
    finally:
        await uplink.stop("shutdown")
    assert json.loads(subscriber.on_topic("/cmd-res/rebirth")[0]) == {"ok": True, "request_id": "kept"}
