"""Logging for the daemon: plain lines for journald, timestamps on a terminal."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections import deque

from gateway.config.redact import redact_url

RING_CAPACITY = 2000
"""Log lines the daemon keeps in RAM for cmd/logs (the newest; older ones fall out)."""
RING_LINE_CHARS = 2000
"""A longer line (a long traceback) is cut to this many characters in the ring."""
ADDRESS_MASK = "XX:XX:XX:XX:XX:XX"
# A Bluetooth (or any EUI-48) address, also in BlueZ's D-Bus form (dev_AA_BB_CC_DD_EE_FF): bleak and
# BlueZ log them at debug level, and a BLE address never leaves RAM (privacy rules), the logs included.
_ADDRESS = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}([:_-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f])")


def redact_line(text: str) -> str:
    """``text`` with URL credentials and hardware (BLE) addresses replaced, as every log line leaves the box."""
    return _ADDRESS.sub(ADDRESS_MASK, redact_url(text))


class LibraryEcho(logging.Filter):
    """Drops a library's own report of what our drivers already report (and count) in their words."""

    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the echoes."""
        return not any(fragment in str(record.msg) for fragment in self.fragments)


class RedactSecrets(logging.Filter):
    """Rewrites `scheme://user:password@` to `scheme://***@` and masks BLE addresses in every record, its
    traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record, with URL credentials and addresses redacted."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        clean = redact_line(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_line(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_line(record.stack_info)
        return True


class LogRing(logging.Handler):
    """The latest log lines in RAM, redacted like the log output, for cmd/logs (bounded: RING_CAPACITY lines)."""

    def __init__(self, capacity: int = RING_CAPACITY) -> None:
        """An empty ring keeping the newest ``capacity`` lines."""
        super().__init__()
        self.lines: deque[tuple[int, str]] = deque(maxlen=capacity)
        """(level number, formatted line), oldest first."""
        formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s",
                                      "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime  # UTC, like every time the gateway publishes
        self.setFormatter(formatter)
        self.addFilter(RedactSecrets())  # its own filter: a record reaches it whatever other handlers do

    def emit(self, record: logging.LogRecord) -> None:
        """Keep one formatted line (logging holds this handler's lock around the call)."""
        try:
            self.lines.append((record.levelno, redact_line(self.format(record))[:RING_LINE_CHARS]))
        except Exception:
            self.handleError(record)

    def latest(self, count: int, level: int = logging.NOTSET) -> list[str]:
        """The newest ``count`` lines at ``level`` or above, oldest first (any thread)."""
        with self.lock:  # type: ignore[union-attr]  # createLock() made it in __init__
            kept = list(self.lines)
        selected = [line for levelno, line in kept if levelno >= level]
        return selected[-count:] if count > 0 else []


def install_log_ring(capacity: int = RING_CAPACITY) -> LogRing:
    """The root logger's LogRing, added on the first call (idempotent: every later call returns the same)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, LogRing):
            return handler
    ring = LogRing(capacity)
    root.addHandler(ring)
    return ring


def setup_logging(level: str = "info") -> None:
    """Configure the root logger once."""
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactSecrets())  # on the handler: it sees the records of every logger
    root = logging.getLogger()
    ring = next((h for h in root.handlers if isinstance(h, LogRing)), None)
    root.handlers[:] = [handler, ring or LogRing()]  # the ring: cmd/logs answers from it
    root.setLevel(level.upper())
    # paho and aiosqlite are chatty at debug; their debug lines never carry our payloads.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    quiet_library_echoes()


def quiet_library_echoes() -> None:
    """Filter the library messages that only repeat what storegw itself reports (idempotent)."""
    sllurp = logging.getLogger("sllurp.llrp")
    if not any(isinstance(f, LibraryEcho) for f in sllurp.filters):
        # sllurp logs a closed reader socket (the LLRP driver logs and counts the disconnect itself,
        # with the reader's name) and TCP fragments shorter than a header (it reassembles them).
        sllurp.addFilter(LibraryEcho("Disconnected from server", "Too few bytes"))
