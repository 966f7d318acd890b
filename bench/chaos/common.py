"""What every module of the chaos suite shares: the repository root, the clock and bounded commands."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script rather than with -m: lab.py imports tests.support
    sys.path.insert(0, str(ROOT))


def now() -> float:
    """Monotonic seconds."""
    return time.monotonic()


def run_cmd(args: list[str], timeout: float = 15.0, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a short command, bounded, capturing its output (never raises on a non-zero exit)."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"timed out after {timeout:g} s")
    except OSError as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


def run_harness(label: str, run: Callable[[Callable[[str], None]], Any]) -> int:
    """Run a harness (``run(out)`` returns a report with ``exit_code``), printing as it goes; SIGTERM or
    Ctrl-C unwind through its cleanup and give 1."""

    def stop(signum: int, frame: Any) -> None:
        """SIGTERM to the harness: unwind through the cleanup."""
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        report = run(lambda text: print(text, flush=True))
    except KeyboardInterrupt:
        print(f"{label}: interrupted; cleaned up", flush=True)
        return 1
    return int(report.exit_code)
