"""What one chaos run does: the options the command line and the tests set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.chaos.common import ROOT


@dataclass
class ChaosOptions:
    """What one chaos run does."""

    rounds: int = 24
    seed: int | None = None
    rate: float = 300.0
    net: str = "auto"
    """auto (namespaces when root, else the proxy alone), netns, or proxy."""
    tmpfs: bool = True
    faults: list[str] | None = None
    """Draw only from these fault kinds."""
    schedule: list[str] | None = None
    """Exactly these faults, in this order (repeated to fill the rounds)."""
    steady: tuple[float, float] = (1.5, 3.0)
    """Seconds of plain load before each fault (uniform in this range)."""
    workdir: Path | None = None
    keep: bool = False
    strict: bool = False
    sabotage: str | None = None
    max_seconds: float | None = None
    replay_chunk: int = 20_000
    daemon_root: Path = ROOT
    """The tree whose `gateway` package the daemon runs (default: this repository)."""
