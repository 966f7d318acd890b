"""Logging for the daemon: plain lines for journald, timestamps on a terminal."""

from __future__ import annotations

import logging
import os
import sys

from gateway.config.redact import redact_url


class LibraryEcho(logging.Filter):
    """Drops a library's own report of what our drivers already report (and count) in their words."""

    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the echoes."""
        return not any(fragment in str(record.msg) for fragment in self.fragments)


class RedactSecrets(logging.Filter):
    """Rewrites `scheme://user:password@` to `scheme://***@` in every record, its traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record, with URL credentials redacted."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        clean = redact_url(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_url(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_url(record.stack_info)
        return True


def setup_logging(level: str = "info") -> None:
    """Configure the root logger once."""
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactSecrets())  # on the handler: it sees the records of every logger
    root = logging.getLogger()
    root.handlers[:] = [handler]
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
