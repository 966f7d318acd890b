"""LLRP message framing at the socket, before sllurp sees a byte.

An LLRP message starts with a 10-byte header: 3 reserved bits (0), 3 version bits (1 for LLRP
1.0.1, 2 for 1.1), 10 type bits, a 32-bit length of the whole message (header included) and a
32-bit id. sllurp trusts the length: a header claiming 4 GiB makes it buffer and re-copy
everything that follows while it waits for the rest (a core burnt, memory growing), and bytes
that are not LLRP at all (an HTTP server, a serial-to-TCP bridge) are read as such a header. The
framer checks every header, bounds the length (messages from a reader are kilobytes; 16 MiB is
far above any real one) and reassembles messages in one buffer, so sllurp only ever gets whole,
plausible messages. Anything else is a :class:`FrameError`: the connection is not LLRP.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!HII")
VERSIONS = (1, 2)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The longest message accepted from a reader; a longer one is a protocol error."""


class FrameError(ValueError):
    """The byte stream is not (or no longer) a sequence of LLRP messages."""


def describe(data: bytes) -> str:
    """The first bytes of ``data`` as hex, for an error message (a few bytes, never a flood)."""
    head = data[:HEADER.size]
    return head.hex(" ") + (" ..." if len(data) > len(head) else "")


class LLRPFramer:
    """Splits a TCP byte stream into whole LLRP messages; raises FrameError on a bad header."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self.messages = 0
        """Whole messages delivered so far."""

    def feed(self, data: bytes) -> list[bytes]:
        """Every message completed by ``data``; the rest waits in the buffer."""
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= HEADER.size:
            word, length, _message_id = HEADER.unpack_from(self._buffer)
            self._check(word, length)
            if len(self._buffer) < length:
                break
            out.append(bytes(self._buffer[:length]))
            del self._buffer[:length]
        self.messages += len(out)
        return out

    def _check(self, word: int, length: int) -> None:
        """Raise FrameError unless the header is one an LLRP reader can send."""
        reserved, version = word >> 13, (word >> 10) & 0x7
        if reserved or version not in VERSIONS:
            raise FrameError(f"it sent {describe(bytes(self._buffer))}, which is not an LLRP message header "
                             f"(version {version}, reserved bits {reserved})")
        if length < HEADER.size:
            raise FrameError(f"it sent a message header with length {length}, shorter than the header itself")
        if length > self.max_message_bytes:
            raise FrameError(f"it sent a message header claiming {length} bytes, over the limit of "
                             f"{self.max_message_bytes} bytes")
