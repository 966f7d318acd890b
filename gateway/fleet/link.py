"""One simulated gateway's broker link: a paho client driven by the asyncio loop, no thread of its own.

The daemon's `gateway.mqtt.link.MqttLink` gives every client paho's network thread (``loop_start``).
A thousand of those in one process starve the event loop of the GIL: measured on a 2-core box, 1,000
MqttLinks did not get more than ~350 clients connected within 60 s (their CONNACK waits timed out while
a thousand threads took turns) and cost 0.4 ms of CPU per event. Here paho's external-loop API does the
same work on the loop: the socket is watched with ``add_reader``/``add_writer`` (``loop_read``,
``loop_write``) and one timer a second calls ``loop_misc`` (keepalive) and checks the PUBACK timeout. Only
the blocking TCP/TLS connect runs in a small shared thread pool.

What stays the daemon's: the publisher it feeds (`gateway.mqtt.publisher.Publisher`, unchanged), the
content type of events on MQTT 5 (`event_properties`), the will and the birth/offline state payloads, a
fresh client per connection (no paho reconnect, no paho resend: unacked rows are resent from the outbox)
and the jittered backoff (`drivers.base.Backoff`). What it leaves out: TLS client certificates, the
failover list and the start-up delay; a simulated fleet talks to the one broker under test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from drivers.base import Backoff
from gateway.mqtt.link import CONTROL_RESERVE, LinkStats, PahoPublisher, event_properties
from gateway.mqtt.settings import LinkSettings

log = logging.getLogger("storegw.fleet")

MISC_EVERY_S = 1.0


class LoopLink(PahoPublisher):
    """Keeps one MQTT connection alive on the event loop and reports to its owner, like MqttLink."""

    def __init__(self, settings: LinkSettings, pool: concurrent.futures.Executor, *,
                 on_up: Callable[[], None], on_down: Callable[[str], None], on_ack: Callable[[int, bool], None],
                 on_message: Callable[[str, bytes, Any], None], oldest_inflight: Callable[[], float | None]) -> None:
        """A link for ``settings``; blocking connects run in ``pool``; the callbacks run on the loop."""
        self.settings = settings
        self.stats = LinkStats()
        self._pool = pool
        self._on_up = on_up
        self._on_down = on_down
        self._on_ack = on_ack
        self._on_message = on_message
        self._oldest_inflight = oldest_inflight
        self._client: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost = asyncio.Event()
        self._connack: asyncio.Future[Any] | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._stopping = False
        self._backoff = Backoff(initial=settings.reconnect_min_s, maximum=settings.reconnect_max_s)
        self._event_properties = event_properties(settings.protocol)

    # ---- the client and its socket on the loop -----------------------------------------------
    def _make_client(self) -> paho.Client:
        """A fresh paho client for one connection attempt (no thread, no paho reconnect)."""
        s = self.settings
        v5 = s.protocol == "5"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             clean_session=None if v5 else True, reconnect_on_failure=False)
        client.max_inflight_messages_set(s.max_inflight)
        client.max_queued_messages_set(s.max_inflight + CONTROL_RESERVE)
        client.connect_timeout = s.connect_timeout_s
        if s.tls:
            client.tls_set()
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.will_topic:
            client.will_set(s.will_topic, s.will_payload, qos=1, retain=True)
        client.on_connect = lambda c, u, flags, rc, props: self._connected(c, rc)
        client.on_disconnect = lambda c, u, flags, rc, props: self._disconnected(c, str(rc))
        client.on_publish = lambda c, u, mid, rc, props: self._acked(c, mid, rc)
        client.on_message = lambda c, u, msg: self._message(c, msg)
        return client

    def _attach(self, client: paho.Client) -> None:
        """Watch the connected socket from the loop (after the blocking connect returned)."""
        assert self._loop is not None
        loop = self._loop
        sock = client.socket()
        if sock is None:
            raise ConnectionError("the connection closed while it was being opened")
        client.on_socket_close = lambda c, u, s: self._detach(s)
        client.on_socket_register_write = lambda c, u, s: loop.add_writer(s, c.loop_write)
        client.on_socket_unregister_write = lambda c, u, s: loop.remove_writer(s)
        loop.add_reader(sock, client.loop_read)
        if client.want_write():
            loop.add_writer(sock, client.loop_write)
        self._misc = loop.call_later(MISC_EVERY_S, self._tick, client)

    def _detach(self, sock: Any) -> None:
        """paho closed the socket: stop watching it."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _tick(self, client: paho.Client) -> None:
        """Once a second: paho's keepalive, and the PUBACK timeout the daemon's link also enforces."""
        if client is not self._client:
            return
        assert self._loop is not None
        if client.loop_misc() != paho.MQTT_ERR_SUCCESS:
            self._disconnected(client, "keepalive: no answer from the broker")
            return
        oldest = self._oldest_inflight()
        if self.stats.connected and oldest is not None and time.monotonic() - oldest > self.settings.puback_timeout_s:
            self.stats.last_error = f"no PUBACK for {self.settings.puback_timeout_s:g} s with messages in flight"
            self._lost.set()
            return
        self._misc = self._loop.call_later(MISC_EVERY_S, self._tick, client)

    # ---- paho callbacks (on the loop, from loop_read/loop_write/loop_misc) ---------------------
    def _connected(self, client: paho.Client, reason: Any) -> None:
        """CONNACK arrived."""
        if client is self._client and self._connack and not self._connack.done():
            self._connack.set_result(reason)

    def _disconnected(self, client: paho.Client, reason: str) -> None:
        """The connection was lost or closed."""
        if client is not self._client:
            return
        if self._connack and not self._connack.done():
            self._connack.set_result(None)
        if not self._stopping and self.stats.connected:
            self.stats.last_error = f"disconnected: {reason}"
        self._lost.set()

    def _acked(self, client: paho.Client, mid: int, reason: Any) -> None:
        """PUBACK for ``mid`` (success unless an MQTT 5 failure reason code)."""
        if client is self._client:
            self.stats.last_puback_monotonic = time.monotonic()
            self._on_ack(mid, not getattr(reason, "is_failure", False))

    def _message(self, client: paho.Client, message: Any) -> None:
        """A command for this gateway."""
        if client is self._client:
            self._on_message(message.topic, message.payload, message.properties)

    # ---- the connection manager --------------------------------------------------------------
    async def run(self) -> None:
        """Connect, watch, and reconnect with jittered backoff until cancelled or stopped."""
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                reason = await self._session()
                if self._stopping:
                    break
                self.stats.last_error = reason
                delay = self._backoff.next_delay()
                log.debug("fleet: %s: %s; reconnecting in %.1f s", self.settings.client_id, reason, delay)
                await asyncio.sleep(delay)
                self.stats.reconnects += 1
        finally:
            self._close(self._client)

    async def _session(self) -> str:
        """One connection from attempt to loss; returns why it ended."""
        assert self._loop is not None
        s = self.settings
        self._lost = asyncio.Event()
        self._connack = self._loop.create_future()
        client = self._make_client()
        self._client = client
        try:
            await self._loop.run_in_executor(self._pool, client.connect, s.host, s.port, s.keepalive_s)
            if self._stopping:
                return "stopping"
            self._attach(client)
            async with asyncio.timeout(s.connect_timeout_s):
                reason = await self._connack
        except TimeoutError:
            self._close(client)
            return f"no answer from {s.host}:{s.port} within {s.connect_timeout_s:g} s"
        except OSError as exc:
            self._close(client)
            return f"cannot connect to {s.host}:{s.port} ({exc.strerror or exc})"
        except Exception as exc:
            self._close(client)
            return f"cannot connect to {s.host}:{s.port} ({type(exc).__name__}: {exc})"
        if reason is None or getattr(reason, "is_failure", False):
            self._close(client)
            return f"broker refused the connection ({reason or 'closed'})"
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.connected_since = time.monotonic()
        self.stats.last_puback_monotonic = time.monotonic()
        self._backoff.reset()
        for topic in s.subscriptions:
            client.subscribe(topic, qos=1)
        self._on_up()
        await self._lost.wait()
        why = self.stats.last_error or "connection lost"
        self.stats.connected = False
        self._on_down(why)
        self._close(client)
        return why

    def _close(self, client: paho.Client | None) -> None:
        """Drop ``client``: close its socket (the broker then publishes the will) and stop its timer."""
        if client is None:
            return
        if client is self._client:
            self._client = None
            if self._misc is not None:
                self._misc.cancel()
                self._misc = None
        sock = client.socket()
        if sock is not None:
            self._detach(sock)
        try:
            # Closing the socket without DISCONNECT, as a crash would: the broker publishes the will.
            client._sock_close()  # paho has no public "drop the connection without DISCONNECT" call
        except Exception:
            pass

    # ---- used by the publisher and the owner: connected, publish_event, publish (PahoPublisher) --
    def _refuses_publish(self) -> bool:
        """Stopping: nothing more is handed to paho."""
        return self._stopping

    async def stop(self, offline_payload: bytes | None, timeout: float = 5.0) -> bool:
        """Graceful stop: the offline state (waiting for its PUBACK), then DISCONNECT; True if it was acked."""
        client = self._client
        delivered = False
        if client is not None and self.stats.connected and offline_payload is not None and self.settings.will_topic:
            info = client.publish(self.settings.will_topic, offline_payload, qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while info.rc == paho.MQTT_ERR_SUCCESS and not info.is_published() and time.monotonic() < deadline \
                    and self.connected:
                await asyncio.sleep(0.05)
            delivered = info.is_published()
        self._stopping = True
        if client is not None and delivered:
            # A normal DISCONNECT, written now (it would otherwise wait for the loop's writer): the broker
            # discards the will, and the offline state saying why stays retained.
            client.disconnect()
            client.loop_write()
        self.stats.connected = False
        self._close(client)
        self._lost.set()
        return delivered
