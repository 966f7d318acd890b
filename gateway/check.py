"""The result of one `storegw doctor` check, shared by the doctor and each device kind's own check."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    """The result of one check."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """One line for the terminal."""
        return f"[{self.status:>4}] {self.name}: {self.detail}"
