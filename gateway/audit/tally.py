"""The technician's tally: key presses (or a scripted file) -> manual crossings, with undo."""

from __future__ import annotations

from dataclasses import dataclass, field

KEYS = {"i": "in", "I": "in", "+": "in", "\x1b[A": "in", "o": "out", "O": "out", "-": "out", "\x1b[B": "out",
        "u": "undo", "U": "undo", "\x7f": "undo", "\b": "undo", "q": "quit", "Q": "quit"}
"""Key (or escape sequence) -> action: in (i, +, up arrow), out (o, -, down arrow), undo (u, backspace), quit (q)."""
WORDS = {"in": "in", "i": "in", "out": "out", "o": "out", "undo": "undo", "u": "undo"}
"""Direction words a keys file may use."""


@dataclass(slots=True)
class Tally:
    """Manual crossings as (direction, time), in the order pressed."""

    presses: list[tuple[str, float]] = field(default_factory=list)

    def apply(self, action: str, t: float) -> None:
        """Record one press: in, out, or undo (takes back the last press)."""
        if action == "undo":
            if self.presses:
                self.presses.pop()
        elif action in ("in", "out"):
            self.presses.append((action, t))

    def count(self, direction: str) -> int:
        """Presses of ``direction`` so far."""
        return sum(1 for d, _ in self.presses if d == direction)


def split_keys(chunk: str) -> list[str]:
    """The actions in a chunk read from the terminal (arrow keys arrive as 3-character sequences)."""
    actions = []
    k = 0
    while k < len(chunk):
        sequence = chunk[k:k + 3]
        if sequence in KEYS:
            actions.append(KEYS[sequence])
            k += 3
            continue
        if chunk[k] in KEYS:
            actions.append(KEYS[chunk[k]])
        k += 1
    return actions


def parse_keys_file(text: str, window_s: float) -> list[tuple[float, str]]:
    """(offset, action) of a scripted tally: lines "t_offset direction" (in, out or undo; # comments)."""
    script = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            offset = float(parts[0])
            action = WORDS[parts[1].lower()] if len(parts) == 2 else ""
        except (ValueError, KeyError):
            action = ""
            offset = -1.0
        if not action or not 0 <= offset <= window_s:
            raise ValueError(f"line {number}: {raw.strip()!r}: expected \"SECONDS in|out|undo\" with "
                             f"0 <= SECONDS <= {window_s:g}")
        script.append((offset, action))
    return sorted(script, key=lambda item: item[0])
