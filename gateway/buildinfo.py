"""Which storegw is running: its version and the commit it was built from."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

UNKNOWN_COMMIT = "unknown"
_STAMP = Path(__file__).with_name("_commit.txt")
"""`git archive` writes the commit into this file (export-subst in .gitattributes), so a wheel or
bundle built from an archive knows its commit without git on the box."""


def version() -> str:
    """The installed distribution's version, or a marker when running from an uninstalled tree."""
    try:
        return metadata.version("storegw")
    except metadata.PackageNotFoundError:
        return "0.0.0+src"


@functools.cache
def commit() -> str:
    """The full commit hash of this code, with "-dirty" for a checkout with local changes, or "unknown"."""
    try:
        stamped = _STAMP.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        stamped = ""
    if stamped and not stamped.startswith("$Format"):
        return stamped
    return _commit_from_git(_STAMP.parent) or UNKNOWN_COMMIT


def _commit_from_git(directory: Path) -> str | None:
    """Ask git about the checkout ``directory`` is in (an editable install); None without one."""
    def git(*args: str) -> str | None:
        """One git command's output, or None when git or the checkout is missing."""
        try:
            done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                                  timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if not head:
        return None
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{head}-dirty" if changes else head


def describe() -> str:
    """One line for `storegw --version`: version and commit."""
    return f"storegw {version()} (commit {commit()})"
