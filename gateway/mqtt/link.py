"""The broker link: one paho client per connection attempt, managed from asyncio.

paho runs its network loop on its own thread; every paho callback only posts to the event
loop with ``call_soon_threadsafe``. We do not use paho's own reconnect (no jitter, and its
in-RAM resend would duplicate the outbox's): on any loss the client is discarded, we back
off with jitter and connect a new one, and the publisher re-sends from the outbox. With a
failover list the new client goes to the next broker; ``failover.FailoverPlan`` decides the order
and the waits.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from drivers.base import Backoff
from gateway.mqtt.failover import FailoverPlan
from gateway.mqtt.settings import Endpoint, LinkSettings

log = logging.getLogger("storegw.mqtt")

CLOUDEVENTS_JSON: Final = "application/cloudevents+json"
"""MQTT 5 content type of every event: the CloudEvents MQTT binding's structured mode."""
CONTROL_RESERVE: Final = 4
"""Room in paho's queue beyond the publisher's window (max_inflight) for the state messages (birth,
offline state): they must be taken even while events, replays and answers fill the window."""


class _PackedProperties(Properties):
    """PUBLISH properties that never change, packed once instead of by paho for every message."""

    _packed: bytes

    def __init__(self, **values: Any) -> None:
        """Set ``values`` (paho property names) and pack them."""
        super().__init__(PacketTypes.PUBLISH)
        for name, value in values.items():
            setattr(self, name, value)
        object.__setattr__(self, "_packed", super().pack())  # paho's __setattr__ only takes property names

    def pack(self) -> bytes:
        """The packed properties (paho calls this for every PUBLISH)."""
        return self._packed


def event_properties(protocol: str) -> Properties | None:
    """The properties of every event PUBLISH: the CloudEvents content type on MQTT 5, none on 3.1.1."""
    return _PackedProperties(ContentType=CLOUDEVENTS_JSON) if protocol == "5" else None


@dataclass
class LinkStats:
    """The link's figures for health and status."""

    connected: bool = False
    reconnects: int = 0
    connects: int = 0
    last_error: str | None = None
    last_puback_monotonic: float | None = None
    connected_since: float | None = None
    subscription_error: str | None = None
    """Why the broker refused the command subscription on this connection (None once it accepted it)."""
    subscribe_refusals: int = 0


class PahoPublisher:
    """The one path from a link to paho's publish, shared by MqttLink and fleet simulate's LoopLink.

    The link keeps ``_client`` (None while down), ``stats`` and ``_event_properties``, and says by
    ``_refuses_publish`` when it takes no more messages (it is stopping).
    """

    _client: paho.Client | None
    stats: LinkStats
    _event_properties: Properties | None

    def _refuses_publish(self) -> bool:
        """True once the link takes no more messages."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        """True between CONNACK and loss."""
        return self.stats.connected and self._client is not None

    def publish_event(self, topic: str, payload: bytes) -> int | None:
        """Publish one outbox event (a structured CloudEvent: its content type on MQTT 5); its mid or None."""
        return self.publish(topic, payload, properties=self._event_properties)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> int | None:
        """Hand one message to paho; returns its mid, or None if it could not be sent."""
        client = self._client
        if client is None or not self.stats.connected or self._refuses_publish():
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return info.mid


class MqttLink(PahoPublisher):
    """Keeps one MQTT connection alive and reports what happens on it to the owner."""

    def __init__(self, settings: LinkSettings, *, on_up: Callable[[], None], on_down: Callable[[str], None],
                 on_ack: Callable[[int, bool], None], on_message: Callable[[str, bytes, Any], None],
                 oldest_inflight: Callable[[], float | None],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, rng: random.Random | None = None) -> None:
        """A link for ``settings``; the callbacks report to the owner (on the loop thread).

        ``sleep`` and ``rng`` are the clock and the random source of the waits (tests replace them).
        """
        self.settings = settings
        self.stats = LinkStats()
        self._on_up = on_up
        self._on_down = on_down
        self._on_ack = on_ack
        self._on_message = on_message
        self._oldest_inflight = oldest_inflight
        self._client: paho.Client | None = None
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._connack: asyncio.Future[Any] | None = None
        self._stopping = False
        self._closing = False
        """stop() has begun: nothing but the offline state is published any more."""
        self._offline_delivered = False
        self._acks: deque[tuple[int, int, Any]] = deque()
        self._ack_drain_scheduled = False
        self._plan = FailoverPlan(settings.endpoints(), spread_max_s=settings.startup_delay_max_s,
                                  backoff_min_s=settings.reconnect_min_s, backoff_max_s=settings.reconnect_max_s,
                                  rng=rng)
        self._sleep = sleep
        self._event_properties = event_properties(settings.protocol)
        self._subscribing: dict[int, str] = {}
        """mid -> topic of the SUBSCRIBEs waiting for their SUBACK."""
        self._subscribe_backoff = Backoff(initial=1.0, maximum=30.0)
        """Built once: publishing events is the hot path (thousands a second)."""

    # ---- paho callbacks (network thread): post and return ------------------------------
    def _post(self, generation: int, func: Callable[..., None], *args: Any) -> None:
        """Run ``func`` on the loop if the client that called is still the current one."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        def guarded() -> None:
            """Run only if the posting client is still the current one."""
            if generation == self._generation:
                func(*args)
        try:
            loop.call_soon_threadsafe(guarded)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _make_client(self, generation: int, tls: bool) -> paho.Client:
        """A fresh paho client for one connection attempt (``tls``: the broker's URL is mqtts://)."""
        s = self.settings
        v5 = s.protocol == "5"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             clean_session=None if v5 else True, reconnect_on_failure=False)
        client.max_inflight_messages_set(s.max_inflight)
        # The publisher never has more than max_inflight messages out; the reserve is queue room for
        # the state messages, which bypass its window (a full window must not refuse the offline state).
        client.max_queued_messages_set(s.max_inflight + CONTROL_RESERVE)
        client.connect_timeout = s.connect_timeout_s
        if tls:
            context = ssl.create_default_context(cafile=s.ca_file or None)
            context.check_hostname = not s.tls_insecure
            context.verify_mode = ssl.CERT_REQUIRED
            if s.cert_file:
                # keyfile_password given explicitly: without it an encrypted key makes OpenSSL prompt.
                context.load_cert_chain(s.cert_file, s.key_file or None, password=s.key_password or "")
            client.tls_set_context(context)
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.will_topic:
            client.will_set(s.will_topic, s.will_payload, qos=1, retain=True)
        client.on_connect = lambda c, u, flags, rc, props: self._post(generation, self._connected, rc)
        client.on_disconnect = lambda c, u, flags, rc, props: self._post(generation, self._disconnected, str(rc))
        client.on_publish = lambda c, u, mid, rc, props: self._ack_from_thread(generation, mid, rc)
        client.on_message = lambda c, u, msg: self._post(
            generation, self._on_message, msg.topic, msg.payload, msg.properties)
        client.on_subscribe = lambda c, u, mid, codes, props: self._post(generation, self._subscribed, generation,
                                                                           mid, codes)
        return client

    def _ack_from_thread(self, generation: int, mid: int, reason: Any) -> None:
        """Queue a PUBACK; one loop wake-up drains every PUBACK that arrived meanwhile."""
        self._acks.append((generation, mid, reason))
        if not self._ack_drain_scheduled:
            self._ack_drain_scheduled = True
            loop = self._loop
            if loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(self._drain_acks)
                except RuntimeError:  # loop closed during shutdown
                    pass

    def _drain_acks(self) -> None:
        """Apply queued PUBACKs of the current client (loop thread)."""
        self._ack_drain_scheduled = False
        while self._acks:
            generation, mid, reason = self._acks.popleft()
            if generation == self._generation:
                self._acked(mid, reason)

    # ---- loop-side handlers ------------------------------------------------------------
    def _connected(self, reason: Any) -> None:
        """CONNACK arrived."""
        if self._connack and not self._connack.done():
            self._connack.set_result(reason)

    def _disconnected(self, reason: str) -> None:
        """The network loop lost or closed the connection."""
        if self._connack and not self._connack.done():
            self._connack.set_result(None)
        self._lost.set()
        if not self._stopping and self.stats.connected:
            self.stats.last_error = f"disconnected: {reason}"

    def _subscribe(self, generation: int, topic: str) -> None:
        """Send one SUBSCRIBE on the current connection; its SUBACK is checked in _subscribed."""
        client = self._client
        if client is None or generation != self._generation or not self.stats.connected:
            return
        result, mid = client.subscribe(topic, qos=1)
        if result == paho.MQTT_ERR_SUCCESS and mid is not None:
            self._subscribing[mid] = topic

    def _subscribed(self, generation: int, mid: int, codes: list[Any]) -> None:
        """A SUBACK: a refused subscription is asked for again with backoff, never left silently missing.

        A broker may refuse it for a while (NATS while JetStream elects a leader after a node loss): the
        connection is otherwise fine, events keep flowing, but no command would ever arrive.
        """
        topic = self._subscribing.pop(mid, None)
        if topic is None:
            return
        refused = [code for code in codes if getattr(code, "is_failure", False)]
        if not refused:
            if self.stats.subscription_error is not None:
                log.warning("mqtt: the broker accepted the command subscription %s now", topic)
            self.stats.subscription_error = None
            self._subscribe_backoff.reset()
            return
        delay = self._subscribe_backoff.next_delay()
        first = self.stats.subscription_error is None
        self.stats.subscription_error = f"broker refused the subscription {topic} ({refused[0]})"
        self.stats.subscribe_refusals += 1
        if first:
            log.error("mqtt: %s: commands cannot arrive; asking again every few seconds (next in %.1f s)",
                      self.stats.subscription_error, delay)
        assert self._loop
        self._loop.call_later(delay, self._subscribe, generation, topic)

    def _acked(self, mid: int, reason: Any) -> None:
        """PUBACK for ``mid`` (success unless an MQTT 5 failure reason code)."""
        ok = not getattr(reason, "is_failure", False)
        self.stats.last_puback_monotonic = time.monotonic()
        self._on_ack(mid, ok)

    # ---- the connection manager --------------------------------------------------------
    async def run(self) -> None:
        """Connect, watch, and reconnect (to the next broker of the list) until cancelled."""
        self._loop = asyncio.get_running_loop()
        plan = self._plan
        try:
            while not self._stopping:
                wait, endpoint = plan.next_attempt()
                if wait > 0:
                    if not self.stats.connects and not self.stats.last_error:
                        log.info("mqtt: connecting to %s in %.1f s (startup_delay_max_s spreads a fleet's connects)",
                                 endpoint, wait)
                    await self._sleep(wait)
                    if self._stopping:
                        break
                if self.stats.connects or self.stats.last_error:
                    self.stats.reconnects += 1
                was_up, reason = await self._session(endpoint)
                if self._stopping:
                    break
                self.stats.last_error = reason
                if was_up:
                    plan.lost()
                else:
                    plan.failed()
                wait, after = plan.upcoming()
                if after == endpoint:
                    log.warning("mqtt: %s; reconnecting in %.1f s", reason, wait)
                else:
                    log.warning("mqtt: %s; trying %s next, in %.1f s", reason, after, wait)
        finally:
            self._abandon()

    @property
    def broker(self) -> Endpoint:
        """The broker in use, or the one being tried next."""
        return self._plan.current

    def _abandon(self) -> None:
        """Cancelled with a client still connected: close it in the background, never leave it running.

        A client left connected would be taken over by the next link's client (same client id),
        and the broker would then publish its will; closing it here ends it now, with the will
        asked for unless the offline state was delivered.
        """
        client = self._client
        if client is None:
            return
        self._client = None
        self._generation += 1
        self.stats.connected = False
        loop = self._loop
        with_will = not self._offline_delivered
        if loop is not None and not loop.is_closed():
            loop.run_in_executor(None, self._stop_client, client, with_will)
        else:
            self._stop_client(client, with_will)

    async def _session(self, endpoint: Endpoint) -> tuple[bool, str]:
        """One connection to ``endpoint`` from attempt to loss; whether it was up, and why it ended."""
        assert self._loop
        self._generation += 1
        generation = self._generation
        self._lost = asyncio.Event()
        self._connack = self._loop.create_future()
        s = self.settings
        try:
            client = self._make_client(generation, endpoint.tls)
            self._client = client
            async with asyncio.timeout(s.connect_timeout_s + 1):
                await self._loop.run_in_executor(None, lambda: client.connect(endpoint.host, endpoint.port,
                                                                               s.keepalive_s))
            client.loop_start()
            async with asyncio.timeout(s.connect_timeout_s):
                reason = await self._connack
        except ssl.SSLCertVerificationError as exc:
            await self._teardown(generation)
            return False, (f"TLS verification of {endpoint} failed ({exc.verify_message}); "
                           f"check ca_file and the broker's certificate")
        except ssl.SSLError as exc:
            await self._teardown(generation)
            return False, f"TLS handshake with {endpoint} failed ({exc.reason or exc}); check the TLS files"
        except TimeoutError:
            await self._teardown(generation)
            return False, f"no answer from {endpoint} within {s.connect_timeout_s:g} s"
        except OSError as exc:
            await self._teardown(generation)
            return False, f"cannot connect to {endpoint} ({exc.strerror or exc})"
        except Exception as exc:
            await self._teardown(generation)
            return False, f"cannot connect to {endpoint} ({type(exc).__name__}: {exc})"
        if reason is None or getattr(reason, "is_failure", False):
            await self._teardown(generation)
            if reason is None:
                return False, (f"broker {endpoint} closed the connection before accepting the session; "
                               "check username, password and ACLs, and the broker's own log")
            return False, f"broker {endpoint} refused the connection ({reason}); check username, password and ACLs"
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.connected_since = time.monotonic()
        self.stats.last_puback_monotonic = time.monotonic()
        self._plan.up()
        log.info("mqtt: connected to %s%s", endpoint, " (TLS)" if endpoint.tls else "")
        self._subscribing.clear()
        self._subscribe_backoff.reset()
        self.stats.subscription_error = None
        for topic in s.subscriptions:
            self._subscribe(generation, topic)
        self._on_up()
        why = await self._watch(client)
        self.stats.connected = False
        self._on_down(why)
        await self._teardown(generation)
        return True, why if why == "stopping" else f"{endpoint}: {why}"

    async def _watch(self, client: paho.Client) -> str:
        """Wait for loss; also end the session when paho's thread dies or PUBACKs stop."""
        while True:
            try:
                async with asyncio.timeout(1.0):
                    await self._lost.wait()
                return self.stats.last_error or "connection lost"
            except TimeoutError:
                pass
            if self._stopping:
                return "stopping"
            thread = getattr(client, "_thread", None)  # paho keeps no public handle on it
            if thread is None or not thread.is_alive():
                return "paho network thread died"
            oldest = self._oldest_inflight()
            if oldest is not None and time.monotonic() - oldest > self.settings.puback_timeout_s:
                return f"no PUBACK for {self.settings.puback_timeout_s:g} s with messages in flight"

    async def _teardown(self, generation: int, with_will: bool = False) -> None:
        """Stop and drop the client of ``generation``."""
        client = self._client
        if client is None or generation != self._generation:
            return
        self._client = None
        assert self._loop
        await self._loop.run_in_executor(None, self._stop_client, client, with_will)

    @staticmethod
    def _stop_client(client: paho.Client, with_will: bool = False) -> None:
        """Close the socket and join paho's thread (runs in an executor); ``with_will`` asks for the will."""
        try:
            if with_will and client.protocol == MQTTProtocolVersion.MQTTv5:
                # 0x04 "Disconnect with Will Message": the broker publishes the will, so the retained
                # state does not stay 'online' when the offline state could not be delivered
                client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
            else:
                client.disconnect()
        except Exception:
            pass
        try:
            client.loop_stop()
        except Exception:
            pass

    # ---- used by the publisher: connected, publish_event and publish (PahoPublisher) ------
    def _refuses_publish(self) -> bool:
        """Closing: control messages only from now on (the offline state goes out by stop())."""
        return self._closing

    async def stop(self, last_will_payload: bytes | None = None, timeout: float = 5.0) -> None:
        """Graceful stop: publish the offline state (waiting for its PUBACK), then disconnect.

        From here on nothing else is published, so the offline state is the last message. It
        has room in paho's queue even when the publisher's window is full (CONTROL_RESERVE); if it
        still cannot be delivered, the disconnect asks the broker for the will (MQTT 5).
        """
        self._closing = True
        client = self._client
        if client is not None and self.stats.connected and last_will_payload is not None and self.settings.will_topic:
            try:
                info = client.publish(self.settings.will_topic, last_will_payload, qos=1, retain=True)
                if info.rc == paho.MQTT_ERR_SUCCESS:
                    assert self._loop
                    await self._loop.run_in_executor(None, info.wait_for_publish, timeout)
                    self._offline_delivered = info.is_published()
                if not self._offline_delivered:
                    log.warning("mqtt: the offline state was not acknowledged (%s)",
                                paho.error_string(info.rc) if info.rc else f"no PUBACK within {timeout:g} s")
            except Exception as exc:
                log.warning("mqtt: the offline state could not be published (%s: %s)", type(exc).__name__, exc)
        self._stopping = True
        self._lost.set()
        if self._client is not None:
            await self._teardown(self._generation, with_will=not self._offline_delivered and client is not None)
        self.stats.connected = False


def response_properties(request: Any) -> Properties | None:
    """MQTT 5 properties echoing a request's correlation data, if it had any."""
    data = getattr(request, "CorrelationData", None) if request is not None else None
    if data is None:
        return None
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = data
    return props

