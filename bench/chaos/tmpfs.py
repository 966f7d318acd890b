"""The data_dir on a tmpfs, so that a full disk can be made by shrinking it and undone by growing it back."""

from __future__ import annotations

import os
from pathlib import Path

from bench.chaos.common import run_cmd

TMPFS_SIZE_KB = 512 * 1024
"""The data_dir tmpfs between disk faults (only what is used costs RAM)."""


class Tmpfs:
    """A tmpfs mounted on data_dir, shrunk to fill it and grown back."""

    def __init__(self, path: Path, size_kb: int = TMPFS_SIZE_KB) -> None:
        """Not mounted yet."""
        self.path = path
        self.size_kb = size_kb
        self.mounted = False

    def mount(self) -> str | None:
        """Mount; None on success, else why not (then data_dir stays a plain folder)."""
        if os.geteuid() != 0:
            return "mounting a tmpfs needs root"
        self.path.mkdir(parents=True, exist_ok=True)
        done = run_cmd(["mount", "-t", "tmpfs", "-o", f"size={self.size_kb}k,mode=0750", "storegw-chaos",
                        str(self.path)])
        if done.returncode != 0:
            return f"mount -t tmpfs is not permitted here ({done.stderr.strip() or done.returncode})"
        self.mounted = True
        return None

    def used_kb(self) -> int:
        """kB in use on the tmpfs."""
        stat = os.statvfs(self.path)
        return (stat.f_blocks - stat.f_bfree) * stat.f_frsize // 1024

    def free_kb(self) -> int:
        """kB free on the tmpfs."""
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize // 1024

    def resize(self, size_kb: int) -> str | None:
        """`mount -o remount,size=...`; None on success, else the error."""
        done = run_cmd(["mount", "-o", f"remount,size={size_kb}k", str(self.path)])
        return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")

    def unmount(self) -> None:
        """Unmount (lazily if something still holds it)."""
        if not self.mounted:
            return
        if run_cmd(["umount", str(self.path)]).returncode != 0:
            run_cmd(["umount", "-l", str(self.path)])
        self.mounted = False
