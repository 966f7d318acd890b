"""One LLRP reader through sllurp: its own client thread, silence detection, fast reconnects.

sllurp runs a thread per client and calls our callback there (swallowing exceptions), so the
callback only stamps the gateway's receive time and posts the reads to the loop. sllurp never
notices a reader that goes silent, and reconnects only after a clean close, 60 s apart: we
watch the age of the last KEEPALIVE or report ourselves, ``hard_disconnect()`` a silent client
and build a new one (reusing one after a hard disconnect stalls) after a jittered backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.base import Backoff, Driver, DriverState

log = logging.getLogger("storegw.driver.llrp")

# Fields we always need, whatever else is configured (sllurp's defaults leave them off).
REQUIRED_CONTENT = {"EnableAntennaID": True, "EnablePeakRSSI": True, "EnableFirstSeenTimestamp": True,
                    "EnableLastSeenTimestamp": True, "EnableTagSeenCount": True}


@dataclass(slots=True, frozen=True)
class TagRead:
    """One tag report entry, timed by the gateway's clock (readers' clocks are often wrong)."""

    epc: str
    antenna: int
    rssi: int | None
    seen_count: int
    time: float


def parse_tag(tag: dict[str, Any], received: float) -> TagRead | None:
    """A TagRead from sllurp's dict, or None if it has no EPC."""
    epc = tag.get("EPC") or tag.get("EPC-96")
    if epc is None:
        return None
    if isinstance(epc, (bytes, bytearray)):
        epc = epc.decode("ascii", "replace")
    rssi = tag.get("PeakRSSI")
    return TagRead(str(epc).upper(), int(tag.get("AntennaID") or 0), None if rssi is None else int(rssi),
                   int(tag.get("TagSeenCount") or 1), received)


class LLRPDriver(Driver[list[TagRead]]):
    """Inventories one reader until cancelled; hands batches of reads to the sink."""

    kind = "llrp"

    def __init__(self, device_id: str, *, host: str, port: int = 5084, reader_config: dict[str, Any] | None = None,
                 silence_timeout_s: float = 10.0, connect_timeout_s: float = 5.0,
                 backoff: Backoff | None = None) -> None:
        super().__init__(device_id)
        self.host = host
        self.port = port
        self.reader_config = dict(reader_config or {})
        self.silence_timeout_s = silence_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self.last_activity = time.monotonic()
        self.reads_total = 0
        self._client: Any = None

    def sllurp_config(self) -> Any:
        """LLRPReaderConfig from our validated settings, with the fields we rely on switched on."""
        from sllurp.llrp import LLRPReaderConfig

        settings = dict(self.reader_config)
        content = dict(settings.pop("tag_content_selector", {}))
        content.update(REQUIRED_CONTENT)
        settings["tag_content_selector"] = {**{
            "EnableROSpecID": False, "EnableSpecIndex": False, "EnableInventoryParameterSpecID": False,
            "EnableChannelIndex": False, "EnableAccessSpecID": False}, **content}
        settings.setdefault("report_every_n_tags", 200)  # without it a reader may withhold reports (sllurp #136)
        settings.setdefault("report_timeout_ms", 500)
        settings.setdefault("keepalive_interval", max(1000, int(self.silence_timeout_s * 1000 / 3)))
        settings["reconnect"] = False  # we reconnect, faster and with jitter
        return LLRPReaderConfig(settings)

    async def run(self, sink: Callable[[list[TagRead]], None]) -> None:
        """Connect, watch, reconnect; forever."""
        loop = asyncio.get_running_loop()
        first = True
        while not self.closed:
            lost = asyncio.Event()
            client = self._new_client(loop, sink, lost)
            self.stats.state = DriverState.RECONNECTING if not first else DriverState.STARTING
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    await loop.run_in_executor(None, client.connect)
            except Exception as exc:
                self._hard_disconnect(client)
                self.stats.state = DriverState.RECONNECTING
                message = f"cannot connect to {self.host}:{self.port} ({type(exc).__name__}: {exc})"
                if message != self.stats.last_error:
                    log.warning("%s: %s", self.device_id, message)
                self.stats.count_error("connect", message)
                await self.backoff.sleep()
                continue
            if not first:
                self.stats.reconnects += 1
            first = False
            self._client = client
            self.last_activity = time.monotonic()
            self.stats.state = DriverState.CONNECTED
            why = await self._watch(lost)
            self._hard_disconnect(client)
            self._client = None
            if self.closed:
                break
            self.stats.state = DriverState.RECONNECTING
            self.stats.count_error("silent" if "silent" in why else "disconnected", why)
            log.warning("%s: %s; reconnecting", self.device_id, why)
            await self.backoff.sleep()

    def _new_client(self, loop: asyncio.AbstractEventLoop, sink: Callable[[list[TagRead]], None],
                    lost: asyncio.Event) -> Any:
        """A fresh sllurp client whose callbacks only post to the loop."""
        from sllurp.llrp import LLRPReaderClient

        client = LLRPReaderClient(self.host, self.port, self.sllurp_config(), timeout=self.connect_timeout_s)

        def deliver(reads: list[TagRead]) -> None:
            """Hand readings to the sink (loop thread)."""
            self.last_activity = time.monotonic()
            if reads:
                self.reads_total += len(reads)
                self.stats.mark_reading(len(reads))
                sink(reads)

        def on_tags(_reader: Any, tags: list[dict[str, Any]]) -> None:
            """Stamp and post tag reports (sllurp's thread: nothing else here)."""
            received = time.time()
            reads = [r for r in (parse_tag(t, received) for t in tags) if r is not None]
            loop.call_soon_threadsafe(deliver, reads)

        def on_activity(_reader: Any, _message: Any) -> None:
            """Note that the reader spoke (sllurp's thread)."""
            loop.call_soon_threadsafe(self._touch)

        def on_disconnected(*_args: Any) -> None:
            """Tell the loop the connection is gone (sllurp's thread)."""
            loop.call_soon_threadsafe(lost.set)

        client.add_tag_report_callback(on_tags)
        client.add_message_callback("KEEPALIVE", on_activity)
        client.add_message_callback("RO_ACCESS_REPORT", on_activity)
        client.add_disconnected_callback(on_disconnected)
        return client

    def _touch(self) -> None:
        """The reader said something."""
        self.last_activity = time.monotonic()

    async def _watch(self, lost: asyncio.Event) -> str:
        """Return why the connection must be replaced."""
        while not self.closed:
            try:
                async with asyncio.timeout(0.5):
                    await lost.wait()
                return "the reader closed the connection"
            except TimeoutError:
                pass
            client = self._client
            if client is not None and not client.is_alive():
                return "the sllurp client thread ended"
            silent = time.monotonic() - self.last_activity
            if silent > self.silence_timeout_s:
                return f"reader silent for {silent:.1f} s (no keepalive, no report)"
            if silent < self.silence_timeout_s / 2:
                self.backoff.reset()
        return "stopped"

    @staticmethod
    def _hard_disconnect(client: Any) -> None:
        """Drop a client without the polite stop (which a silent reader never answers)."""
        try:
            client.hard_disconnect()
        except Exception:
            pass

    def _shutdown(self) -> None:
        """Close the current client."""
        if self._client is not None:
            self._hard_disconnect(self._client)
            self._client = None
