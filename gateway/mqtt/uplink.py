"""The way to the broker: one MqttLink fed from the outbox by one Publisher, wired together.

The daemon makes one per connection settings (a reload that changes them makes a new one, handing
over the replays and answers still waiting); the delivery benchmark uses the same object.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from gateway.mqtt.link import MqttLink
from gateway.mqtt.publisher import Publisher
from gateway.mqtt.replay import ReplayRequest
from gateway.mqtt.settings import LinkSettings
from gateway.mqtt.state import birth_payload, offline_payload
from gateway.outbox import Outbox
from gateway.tasks import STOP_WAIT_S, settle

log = logging.getLogger("storegw.mqtt")

MessageHandler = Callable[[str, bytes, Any], None]
"""Takes a message on a subscribed topic: topic, payload, MQTT 5 properties (loop thread)."""
RETAINED_INFLIGHT = 2
"""Retained state messages (devices/{id}/state) unacknowledged at once: with the birth and the offline
state they stay within the link's CONTROL_RESERVE, so they never take room the publisher's window needs."""


def ignore_message(topic: str, payload: bytes, properties: Any) -> None:
    """The message handler of an uplink that subscribes to nothing."""


class Uplink:
    """An MqttLink and its Publisher: events committed in the outbox go out, PUBACKs come back as acks."""

    def __init__(self, outbox: Outbox, settings: LinkSettings, *, replay_share: float = 0.5,
                 on_message: MessageHandler = ignore_message, previous: Uplink | None = None,
                 on_birth: Callable[[], None] | None = None) -> None:
        """A link for ``settings``, a window of its max_inflight; ``previous`` hands over its waiting work;
        ``on_birth`` is called after each birth (the daemon republishes every device's state then)."""
        self.outbox = outbox
        self.publisher = Publisher(outbox, self._publish_event, settings.max_inflight, replay_share=replay_share,
                                   publish_answer=self._publish_answer,
                                   previous=previous.publisher if previous is not None else None)
        self.link = MqttLink(settings, on_up=self._on_up, on_down=self._on_down, on_ack=self._on_ack,
                             on_message=on_message, oldest_inflight=self.publisher.oldest_inflight)
        self.stopped = False
        """stop() has begun: the link is closed or closing, the publisher takes no more rows."""
        self._tasks: list[asyncio.Task[None]] = []
        self._on_birth = on_birth
        self._retained: dict[str, bytes] = {}
        """Retained state messages waiting for room (the latest per topic), oldest first."""
        self._retained_mids: set[int] = set()

    @property
    def settings(self) -> LinkSettings:
        """The connection settings this uplink was made for."""
        return self.link.settings

    @property
    def connected(self) -> bool:
        """True while the broker connection is up and the uplink not stopping."""
        return not self.stopped and self.link.connected

    def start(self) -> None:
        """Start connecting and publishing (two tasks, until stop)."""
        self._tasks = [asyncio.create_task(self.link.run(), name="mqtt"),
                       asyncio.create_task(self.publisher.run(), name="publisher")]

    async def stop(self, reason: str, wait_s: float = STOP_WAIT_S) -> None:
        """Publish the offline state saying ``reason``, close the link and stop taking rows from the outbox."""
        if self.stopped:
            return
        self.stopped = True
        try:
            await self.link.stop(offline_payload(self.outbox.boot, reason))
        except Exception:
            log.exception("mqtt: error while stopping")
        for task in self._tasks:
            task.cancel()
        await settle(list(self._tasks), "mqtt", wait_s)
        self.publisher.close()

    # ---- what the daemon sends -------------------------------------------------------------
    def publish_birth(self) -> None:
        """Retained `{online: true, boot}` on the state topic (the will's), if the settings name one; then
        whatever follows a birth (every device's state)."""
        if self.link.settings.will_topic:
            self.link.publish(self.link.settings.will_topic, birth_payload(self.outbox.boot), retain=True)
        if self._on_birth is not None:
            self._on_birth()

    def publish_retained(self, topic: str, payload: bytes) -> bool:
        """Queue a retained QoS 1 state message (a newer one for the same topic replaces it while it waits);
        False when not connected: the next birth publishes the state of then."""
        if not self.connected:
            return False
        self._retained.pop(topic, None)  # the newest goes to the end: messages keep the order of changes
        self._retained[topic] = payload
        self._send_retained()
        return True

    def _send_retained(self) -> None:
        """Hand waiting retained messages to the link while fewer than RETAINED_INFLIGHT wait for their PUBACK."""
        while self._retained and len(self._retained_mids) < RETAINED_INFLIGHT and self.connected:
            topic = next(iter(self._retained))
            mid = self.link.publish(topic, self._retained[topic], retain=True)
            if mid is None:
                return  # the link is going down; the next birth republishes
            del self._retained[topic]
            self._retained_mids.add(mid)

    def answer(self, topic: str, payload: bytes, properties: Any = None, *, busy: bool = False) -> None:
        """Queue a command answer; it goes out first as soon as the window has room."""
        self.publisher.answer(topic, payload, properties, busy=busy)

    def replay(self, from_seq: int, to_seq: int) -> ReplayRequest:
        """Queue a replay of from_seq..to_seq from the outbox (raises ReplayBusy when too many wait)."""
        return self.publisher.replay(from_seq, to_seq)

    def answers_waiting(self) -> int:
        """Answers waiting for room in the publish window."""
        return len(self.publisher.answers)

    # ---- the wiring between link and publisher ------------------------------------------------
    def _publish_event(self, topic: str, payload: bytes) -> int | None:
        """Hand one outbox row to the link (a structured CloudEvent); its mid, or None if not sent."""
        return self.link.publish_event(topic, payload)

    def _publish_answer(self, topic: str, payload: bytes, properties: Any) -> int | None:
        """Hand one command answer to the link; its mid, or None if not sent."""
        return self.link.publish(topic, payload, properties=properties)

    def _on_ack(self, mid: int, ok: bool) -> None:
        """A PUBACK: a retained state message's frees room for the next, any other is the publisher's."""
        if mid in self._retained_mids:
            self._retained_mids.discard(mid)
            if not ok:
                log.warning("mqtt: broker rejected a device state message (check the ACL of .../devices/+/state)")
            self._send_retained()
            return
        self.publisher.on_ack(mid, ok)

    def _on_up(self) -> None:
        """Connected: birth first, then the publisher resends everything unacked."""
        self._retained.clear()
        self._retained_mids.clear()
        self.publish_birth()
        self.publisher.on_up()

    def _on_down(self, why: str) -> None:
        """Connection lost: what was in flight is read again on the next one (states are republished)."""
        self._retained.clear()
        self._retained_mids.clear()
        self.publisher.on_down()
