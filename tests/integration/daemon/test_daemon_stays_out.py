"""Only the verbs that run the daemon import it: `storegw status` loads neither paho, aiosqlite nor the daemon."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT

DAEMON_IMPORT = re.compile(r"^\s*(from gateway\.app import|import gateway\.app\b|from gateway import app\b)", re.M)
RUNS_THE_DAEMON = {"gateway/cli/run.py", "gateway/cli/demo.py"}
STATUS = """
import json, sys
from gateway.cli.main import main
code = main(["status", "--socket", sys.argv[1]])
heavy = sorted(name for name in sys.modules
               if name.split(".")[0] in ("paho", "aiosqlite") or name in ("gateway.app", "gateway.supervisor"))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_no_module_but_run_and_demo_imports_the_daemon() -> None:
    """The daemon module is imported by `storegw run` and `storegw demo` only (no circle through it)."""
    importers = sorted(str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "gateway").rglob("*.py")
                       if DAEMON_IMPORT.search(path.read_text()))
    assert set(importers) <= RUNS_THE_DAEMON, importers


def test_status_starts_without_paho_aiosqlite_or_the_daemon(tmp_path: Path) -> None:
    """`storegw status` (the whole entry point, every verb registered) loads none of the daemon's weight."""
    result = subprocess.run([sys.executable, "-c", STATUS, str(tmp_path / "none.sock")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["code"] == 3, result.stderr  # no daemon on that socket
    assert seen["heavy"] == []
