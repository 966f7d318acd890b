"""Grabs frames on its own thread and keeps only the latest one (never a growing queue).

The requested frame rate is asked of the source (CAP_PROP_FPS), so a camera decodes only what
is needed; a file is paced to its own frame rate (or run flat out with ``realtime=False``) and
optionally looped. A stream that stalls (no frame for ``stall_s``) or ends is reopened with
jittered backoff. Frames stay in RAM: nothing here writes an image anywhere.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from drivers.base import Backoff, Driver, DriverStats


@dataclass(slots=True)
class Frame:
    """One decoded frame (BGR) with its number and the gateway time it was grabbed."""

    image: Any
    index: int
    time: float


SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass|token|key|auth|secret)=)[^&#]*")


def safe_source(source: str, mask: str = "***@") -> str:
    """``source`` fit to print: ``user:password@`` replaced by ``mask``, password-like query values hidden."""
    if "://" not in source:
        return source
    scheme, rest = source.split("://", 1)
    if "@" in rest:
        # everything up to the last "@": a password may itself contain "@" or "/" (better hide too much)
        rest = mask + rest.rpartition("@")[2]
    return f"{scheme}://" + SECRET_QUERY.sub(r"\1***", rest)


def source_kind(source: str) -> Literal["device", "stream", "file"]:
    """What a camera source is: a local device (USB index or /dev path), a network stream, or a file."""
    if source.isdigit() or source.startswith("/dev/"):
        return "device"
    if "://" in source:
        return "stream"
    return "file"


def open_capture(source: str, fps: float | None) -> Any:
    """cv2.VideoCapture of a USB index, URL or file, asking for ``fps``."""
    import cv2

    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if fps and (source.isdigit() or "://" in source):
        capture.set(cv2.CAP_PROP_FPS, fps)
    return capture


class CameraDriver(Driver[Frame]):
    """Delivers the latest frame; the consumer takes frames at its own pace."""

    kind = "camera"

    def __init__(self, device_id: str, *, source: str, fps: float | None = None, loop: bool = False,
                 realtime: bool = True, stall_s: float = 10.0, backoff: Backoff | None = None,
                 stats: DriverStats | None = None) -> None:
        super().__init__(device_id, stats=stats, backoff=backoff or Backoff(initial=1.0, maximum=30.0))
        self.source = source
        self.fps = fps
        self.loop_file = loop
        self.realtime = realtime
        self.stall_s = stall_s
        self._latest: Frame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.grabbed = 0
        self.taken = 0
        self.ended = False
        """True once a non-looping file has been read to its end."""

    # ---- consumer side -----------------------------------------------------------------
    def latest(self) -> Frame | None:
        """Take the newest frame (None if nothing new since the last call)."""
        with self._lock:
            frame, self._latest = self._latest, None
        if frame is not None:
            self.taken += 1
            self.stats.extra["skipped_frames"] = self.grabbed - self.taken
        return frame

    # ---- producer thread ---------------------------------------------------------------
    async def run(self, sink: Callable[[Frame], None]) -> None:
        """Grab on a thread until cancelled; ``sink`` is told of every new frame (on the loop)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def notify(frame: Frame) -> None:
            """Count a frame and tell the sink (loop thread)."""
            self.stats.mark_reading()
            sink(frame)

        def main() -> None:
            """The grabber thread: grab until stopped, then wake the loop."""
            try:
                self._grab_forever(lambda frame: loop.call_soon_threadsafe(notify, frame),
                                   lambda *a: loop.call_soon_threadsafe(*a))
            finally:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        thread = threading.Thread(target=main, name=f"camera:{self.device_id}", daemon=True)
        self._stop.clear()
        thread.start()
        try:
            await done
        finally:
            self._stop.set()
            await loop.run_in_executor(None, thread.join, 5)

    def _grab_forever(self, hand_over: Callable[[Frame], None], post: Callable[..., None]) -> None:
        """Open, read, reopen; runs on the grabber thread."""
        first = True
        while not self._stop.is_set():
            capture = open_capture(self.source, self.fps)
            if not capture.isOpened():
                capture.release()
                post(self.report_problem, "open_failed", f"cannot open {self._safe_source()}")
                self._stop.wait(self.backoff.next_delay())
                continue
            post(self.link_up, not first)
            first = False
            reason = self._read(capture, hand_over)
            capture.release()
            if reason == "end":
                if not self.loop_file:
                    self.ended = True
                    return
                continue
            if self._stop.is_set():
                return
            post(self.report_problem, "stalled", f"{self._safe_source()}: {reason}")
            self._stop.wait(self.backoff.next_delay())

    def _read(self, capture: Any, hand_over: Callable[[Frame], None]) -> str:
        """Read frames until the stream ends or stalls; returns why it stopped."""
        import cv2

        is_file = not (self.source.isdigit() or "://" in self.source)
        file_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        period = 1.0 / (self.fps or file_fps) if (is_file and self.realtime) else 0.0
        next_due = time.monotonic()
        last_frame = time.monotonic()
        while not self._stop.is_set():
            ok, image = capture.read()
            now = time.monotonic()
            if not ok:
                if is_file:
                    return "end"
                if now - last_frame > self.stall_s:
                    return f"no frame for {self.stall_s:g} s"
                time.sleep(0.05)
                continue
            last_frame = now
            self.backoff.reset()
            self.grabbed += 1
            frame = Frame(image, self.grabbed, time.time())
            with self._lock:
                self._latest = frame  # the previous one, if not taken, is dropped: never a queue
            hand_over(frame)
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_due = time.monotonic()
        return "stopped"

    def _safe_source(self) -> str:
        """The source without credentials (RTSP URLs often carry user:password@)."""
        return safe_source(self.source, mask="")

    def _shutdown(self) -> None:
        """Stop the grabber thread."""
        self._stop.set()
