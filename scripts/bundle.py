#!/usr/bin/env python3
"""Build the offline release bundle: the storegw wheel, every locked dependency wheel, models, units.

    .venv/bin/python scripts/bundle.py --arch aarch64 [--python 3.11] [--profile all] [-o dist/]

The bundle is built from the committed HEAD (`git archive`, so the wheel knows its commit) and
the dependencies are exactly those of requirements/PROFILE.txt for the target machine, checked
against the lock's sha256 as they are downloaded. `systemd/install.sh --bundle FILE` installs it
with `pip --no-index`: a store box needs no package index. Run it from the project's venv
(`scripts/venv.sh test`), which has pip, setuptools and packaging at their locked versions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
ARCHES = ("x86_64", "aarch64")
PYTHONS = ("3.11", "3.12")
DEFAULT_GLIBC = "2.36"
"""Debian 12 and Raspberry Pi OS bookworm; pip also takes every older manylinux wheel."""
SHIPPED_FILES = ("README.md", "CHANGELOG.md", "COPYING", "config/store.example.toml", "config/schema.json",
                 "systemd/install.sh", "systemd/storegw.service", "systemd/storegw.tmpfiles.conf")


@dataclass(frozen=True)
class LockedRequirement:
    """One `name==version ; marker --hash=...` entry of an exported lock file."""

    name: str
    version: str
    marker: str
    hashes: tuple[str, ...]

    def line(self) -> str:
        """The entry as a requirements line pip accepts in --require-hashes mode."""
        hashes = " ".join(f"--hash={digest}" for digest in self.hashes)
        return f"{self.name}=={self.version} {hashes}"


def read_locked(path: Path) -> list[LockedRequirement]:
    """Parse a requirements file exported by `uv export` (continuation lines, markers, hashes)."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        text = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not text:
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        logical.append(pending + text)
        pending = ""
    if pending:
        logical.append(pending)
    requirements = []
    for entry in logical:
        hashes = tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", entry))
        spec = re.sub(r"--hash=\S+", "", entry).strip()
        pin, _, marker = (part.strip() for part in spec.partition(";"))
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", pin)
        if not match or not hashes:
            raise SystemExit(f"{path}: not an exact pin with hashes: {entry[:100]}")
        requirements.append(LockedRequirement(match.group(1), match.group(2), marker, hashes))
    return requirements


def target_environment(arch: str, python: str) -> dict[str, str]:
    """Marker variables of CPython ``python`` on Linux ``arch`` (pip would use the build machine's own)."""
    return {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "platform_machine": arch,
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "python_version": python, "python_full_version": f"{python}.0", "implementation_version": f"{python}.0"}


def for_target(requirements: list[LockedRequirement], arch: str, python: str) -> list[LockedRequirement]:
    """The locked requirements that apply on the target machine."""
    environment = target_environment(arch, python)
    return [req for req in requirements if not req.marker or Marker(req.marker).evaluate(environment)]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git(*args: str) -> str:
    """Output of a git command in the project."""
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def export_head(target: Path) -> str:
    """Unpack the committed HEAD into ``target`` (export-subst stamps the commit); returns the commit."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return git("rev-parse", "HEAD")


def run(command: list[str]) -> None:
    """Run a build step, its output shown only when it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bundle: failed: {' '.join(command[:6])} ...")


def platform_tags(arch: str, glibc: str) -> list[str]:
    """Every manylinux tag a box with this glibc runs (pip does not widen a given --platform itself)."""
    major, minor = (int(part) for part in glibc.split("."))
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    tags += [f"{name}_{arch}" for name, needs in legacy.items() if needs <= minor]
    return [*tags, f"linux_{arch}"]


def download_wheels(lock_file: Path, wheels: Path, arch: str, python: str, glibc: str) -> None:
    """Download every locked wheel for the target, checked against the lock's hashes."""
    platforms = [option for tag in platform_tags(arch, glibc) for option in ("--platform", tag)]
    run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--require-hashes", "--implementation", "cp", "--python-version", python,
         *platforms, "-r", str(lock_file), "-d", str(wheels)])


def build(arch: str, python: str, profile: str, glibc: str, out_dir: Path) -> Path:
    """Build one bundle and return its path."""
    if git("status", "--porcelain", "--untracked-files=no"):
        print("bundle: the working tree has uncommitted changes; the bundle holds HEAD without them",
              file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="storegw-bundle-") as scratch:
        source = Path(scratch) / "src"
        commit = export_head(source)
        version = re.search(r'^version = "([^"]+)"', (source / "pyproject.toml").read_text(), re.M)
        assert version, "pyproject.toml has no version"
        name = f"storegw-{version.group(1)}-linux-{arch}-cp{python.replace('.', '')}"
        stage = Path(scratch) / name
        wheels = stage / "wheels"
        wheels.mkdir(parents=True)
        run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
             "--no-build-isolation", "-w", str(wheels), str(source)])
        own_wheel = next(wheels.glob("storegw-*.whl"))
        locked = for_target(read_locked(source / "requirements" / f"{profile}.txt"), arch, python)
        deps_lock = Path(scratch) / "deps.txt"
        deps_lock.write_text("".join(req.line() + "\n" for req in locked))
        download_wheels(deps_lock, wheels, arch, python, glibc)
        tooling = for_target(read_locked(source / "requirements" / "build.txt"), arch, python)
        requirements = [*locked, LockedRequirement("storegw", version.group(1), "",
                                                   (f"sha256:{sha256_of(own_wheel)}",))]
        (stage / "requirements.txt").write_text(
            f"# storegw {version.group(1)} ({commit}), profile {profile}, CPython {python} on linux {arch}\n"
            + "".join(req.line() + "\n" for req in requirements))
        (stage / "build-requirements.txt").write_text("".join(req.line() + "\n" for req in tooling))
        download_wheels(stage / "build-requirements.txt", wheels, arch, python, glibc)
        shutil.copytree(source / "models", stage / "models")
        for relative in SHIPPED_FILES:
            (stage / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, stage / relative)
        (stage / "BUNDLE.json").write_text(json.dumps({
            "name": "storegw", "version": version.group(1), "commit": commit, "profile": profile,
            "arch": arch, "python": python, "glibc_min": glibc,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "packages": {req.name: req.version for req in requirements}}, indent=2) + "\n")
        sums = [f"{sha256_of(path)}  {path.relative_to(stage)}" for path in sorted(stage.rglob("*"))
                if path.is_file()]
        (stage / "SHA256SUMS").write_text("\n".join(sums) + "\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        bundle = out_dir / f"{name}.tar.gz"
        with tarfile.open(bundle, "w:gz", compresslevel=1) as tar:  # wheels are compressed already
            tar.add(stage, arcname=name)
    return bundle


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and build the requested bundles."""
    parser = argparse.ArgumentParser(description="Build storegw's offline release bundle.")
    parser.add_argument("--arch", choices=(*ARCHES, "all"), default="all")
    parser.add_argument("--python", choices=PYTHONS, default="3.11",
                        help="the CPython of the target box (Raspberry Pi OS / Debian 12: 3.11)")
    parser.add_argument("--profile", default="all", help="which lock profile to ship (requirements/PROFILE.txt)")
    parser.add_argument("--glibc", default=DEFAULT_GLIBC, help="the oldest glibc of the target boxes")
    parser.add_argument("-o", "--out-dir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    for arch in ARCHES if args.arch == "all" else (args.arch,):
        bundle = build(arch, args.python, args.profile, args.glibc, args.out_dir)
        print(f"{bundle} ({bundle.stat().st_size / 1e6:.0f} MB, sha256 {sha256_of(bundle)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
