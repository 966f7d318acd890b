"""What happened in one round: its fault, parameters, notes and liveness findings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoundRecord:
    """What happened in one round."""

    number: int
    fault: str
    detail: str = ""
    started: float = 0.0
    ended: float = 0.0
    new_events: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Liveness findings: the daemon died, hung, refused a valid config, starved, did not answer."""
    stall_s: float = 0.0
    peak_rss_kb: int = 0

    def note(self, text: str) -> None:
        """Something worth a line in the report."""
        self.notes.append(text)

    def problem(self, text: str) -> None:
        """A finding (printed at once, too)."""
        self.problems.append(text)
        print(f"    !! round {self.number} ({self.fault}): {text}", flush=True)
