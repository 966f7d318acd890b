"""The lock is the one source of every install: in step with pyproject.toml, exported faithfully, installed exactly."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.support.paths import REPO_ROOT, load_script

bundle = load_script("bundle")
for_target, platform_tags, read_locked = bundle.for_target, bundle.platform_tags, bundle.read_locked

ROOT = REPO_ROOT

PROFILES = ("build", "base", "rfid", "ble", "vision", "demo", "all", "test")


def uv() -> str:
    """The uv of this venv (locked in the test profile)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed; it comes with the test profile (scripts/venv.sh test)")
    return found


def test_lock_is_up_to_date_with_pyproject() -> None:
    """A dependency change without `scripts/lock.sh` fails here, not on a box."""
    done = subprocess.run([uv(), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0 and "network" in done.stderr.lower():
        done = subprocess.run([uv(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"uv.lock is stale; run scripts/lock.sh\n{done.stderr}"


@pytest.mark.parametrize("profile", PROFILES)
def test_exported_requirements_are_the_lock(profile: str, tmp_path: Path) -> None:
    """requirements/PROFILE.txt is exactly what `uv export` makes of uv.lock today."""
    selection = {"build": ["--only-group", "build"], "base": []}.get(profile, ["--extra", profile])
    out = tmp_path / f"{profile}.txt"
    subprocess.run([uv(), "export", "--frozen", "--format", "requirements.txt", "--no-emit-project", "--no-dev",
                    *selection, "-o", str(out)], cwd=ROOT, check=True, capture_output=True)
    def body(path: Path) -> list[str]:
        """The file without uv's header comment, which names the output path."""
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert body(ROOT / "requirements" / f"{profile}.txt") == body(out), f"run scripts/lock.sh ({profile})"


def test_every_locked_entry_is_an_exact_pin_with_hashes() -> None:
    """pip --require-hashes can take every file; nothing is a range."""
    for profile in PROFILES:
        entries = read_locked(ROOT / "requirements" / f"{profile}.txt")
        assert entries, profile
        for entry in entries:
            assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", entry.version), entry
            assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) for digest in entry.hashes), entry


def test_this_venv_holds_exactly_the_locked_test_profile() -> None:
    """What scripts/test.sh installed is the lock, version for version (the README's promise)."""
    environment = {"python_version": f"{sys.version_info[0]}.{sys.version_info[1]}",
                   "python_full_version": ".".join(map(str, sys.version_info[:3]))}
    wrong = []
    for entry in read_locked(ROOT / "requirements" / "test.txt"):
        if entry.marker and not Marker(entry.marker).evaluate(environment):
            continue
        try:
            installed = metadata.version(entry.name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != entry.version:
            wrong.append(f"{entry.name}: locked {entry.version}, installed {installed}")
    assert not wrong, "this venv is not the lock (run scripts/venv.sh test):\n" + "\n".join(wrong)


def test_markers_are_evaluated_for_the_target_not_the_build_machine() -> None:
    """A 3.12 bundle built on 3.11 takes the 3.12 numpy of the lock; a 3.11 one the 3.11 numpy."""
    locked = read_locked(ROOT / "requirements" / "vision.txt")
    numpy_for = {python: [e.version for e in for_target(locked, "aarch64", python) if e.name == "numpy"]
                 for python in ("3.11", "3.12")}
    assert len(numpy_for["3.11"]) == 1 and len(numpy_for["3.12"]) == 1
    every_numpy = {e.version for e in locked if e.name == "numpy"}
    assert set(numpy_for["3.11"]) | set(numpy_for["3.12"]) <= every_numpy


def test_platform_tags_cover_older_manylinux_and_stop_at_the_target_glibc() -> None:
    """pip is given every manylinux tag the box runs, and none newer than its glibc."""
    tags = platform_tags("aarch64", "2.36")
    assert "manylinux_2_28_aarch64" in tags and "manylinux2014_aarch64" in tags and "linux_aarch64" in tags
    assert "manylinux_2_36_aarch64" in tags and "manylinux_2_37_aarch64" not in tags
    assert all(tag.endswith("aarch64") for tag in tags)


def test_read_locked_refuses_a_range(tmp_path: Path) -> None:
    """A hand-edited line that is not an exact pin is an error, not a silent pass."""
    path = tmp_path / "bad.txt"
    path.write_text("numpy>=2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(SystemExit, match="not an exact pin"):
        read_locked(path)
