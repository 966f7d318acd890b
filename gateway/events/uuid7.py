"""UUIDv7 ids (RFC 9562) that stay unique and ordered at thousands per millisecond.

Python 3.11 has no uuid7, and the `uuid6` package advances the timestamp by 1 ms per
extra id in a millisecond, so at 5,000 ids/s its timestamps drift ahead of the clock.
RFC 9562 method 1 instead puts a 12-bit counter in rand_a, seeded randomly each ms.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Ids must be unique, not secret: a generator seeded from the OS avoids two syscalls per id.
_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def uuid7(now_ns: int | None = None) -> uuid.UUID:
    """A new UUIDv7 for the current (or given) time, monotonic within this process."""
    global _last_ms, _counter
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _lock:
        if ms > _last_ms:
            _last_ms = ms
            _counter = _random.getrandbits(11)  # leave headroom for increments
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond (RFC 9562 6.2)
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
        rand_b = _random.getrandbits(62)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
