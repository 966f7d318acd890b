"""The offline release: build the x86_64 bundle, install it with no package index, run it."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
pytestmark = pytest.mark.slow


def head_commit() -> str:
    """The commit the bundle is built from."""
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout: the bundle is built from HEAD")
    return done.stdout.strip()


def without_network() -> list[str]:
    """A prefix that runs a command in a new network namespace with no interface up, where we may."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0 and subprocess.run([unshare, "-n", "true"]).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The x86_64 bundle for this Python, built by scripts/bundle.py from HEAD."""
    if platform.machine() != "x86_64":
        pytest.skip("the install half needs an x86_64 machine")
    head_commit()
    out = tmp_path_factory.mktemp("dist")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bundle.py"), "--arch", "x86_64", "--python",
                           python, "-o", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("storegw-*-linux-x86_64-cp*.tar.gz")
    return path


@pytest.fixture(scope="module")
def installed(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PREFIX of an install of the bundle made with no package index (and, as root, no network)."""
    prefix = tmp_path_factory.mktemp("opt") / "storegw"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "VIRTUAL_ENV"))}
    environment["STOREGW_PYTHON"] = sys._base_executable  # a plain CPython, not this venv's
    done = subprocess.run([*without_network(), "bash", str(ROOT / "systemd" / "install.sh"), "--bundle", str(bundle),
                           "--prefix", str(prefix), "--no-system"], capture_output=True, text=True, timeout=600,
                          env=environment)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "with no package index" in done.stdout
    yield prefix


def test_bundle_holds_every_locked_wheel_for_the_target_and_its_manifest(bundle: Path) -> None:
    """One archive: our wheel, a wheel per locked package, models, units; the manifest names the commit."""
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        (manifest_name,) = [name for name in names if name.endswith("/BUNDLE.json")]
        manifest = json.load(tar.extractfile(manifest_name))  # type: ignore[arg-type]
    assert manifest["commit"] == head_commit() and manifest["arch"] == "x86_64"
    wheels = [Path(name).name for name in names if name.endswith(".whl")]
    assert any(name.startswith(f"storegw-{manifest['version']}-") for name in wheels)
    normalised = {re.sub(r"[-_.]+", "_", name.split("-")[0]).lower() for name in wheels}
    for package in manifest["packages"]:
        assert re.sub(r"[-_.]+", "_", package).lower() in normalised, f"no wheel for {package}"
    assert not [name for name in wheels if "aarch64" in name or "win" in name or "macosx" in name]
    for shipped in ("models/manifest.toml", "systemd/install.sh", "systemd/storegw.service", "COPYING",
                    "SHA256SUMS", "requirements.txt"):
        assert any(name.endswith("/" + shipped) for name in names), shipped


def test_installed_bundle_says_its_version_and_commit(installed: Path) -> None:
    """`storegw --version` of the install names the commit it was built from, not "unknown"."""
    done = subprocess.run([str(installed / "venv" / "bin" / "storegw"), "--version"], capture_output=True, text=True,
                          cwd=installed)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"storegw \d+\.\d+\.\d+\S* \(commit {head_commit()}\)\n", done.stdout), done.stdout


def test_installed_bundle_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    """The installed store runs the simulated store for 10 s and delivers what it committed."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("STOREGW_")}
    done = subprocess.run([str(installed / "venv" / "bin" / "storegw"), "demo", "--seconds", "10", "--plain",
                           "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=environment)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "ModuleNotFoundError" not in output
    summary = re.search(r"(\d+) events committed .*; (\d+) delivered to the broker", output)
    assert summary and int(summary.group(1)) > 0 and summary.group(1) == summary.group(2), output[-2000:]
    assert re.search(r"footfall", output)
