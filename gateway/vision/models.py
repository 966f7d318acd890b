"""Model files: where they are, that they are the ones in the manifest, and onnxruntime sessions."""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ModelError(Exception):
    """A model that cannot be used; the message says which file and what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    file: str
    sha256: str
    source: str
    licence: str


def models_dir() -> Path:
    """STOREGW_MODELS_DIR, else `models/` of the source tree, else `models/` beside the venv (/opt/storegw)."""
    override = os.environ.get("STOREGW_MODELS_DIR")
    if override:
        return Path(override)
    source_tree = Path(__file__).resolve().parents[2] / "models"
    if source_tree.is_dir():
        return source_tree
    # systemd/install.sh lays out PREFIX/venv beside PREFIX/models
    return Path(sys.prefix).resolve().parent / "models"


def manifest(directory: Path | None = None) -> dict[str, ModelSpec]:
    """The manifest's entries by name."""
    folder = directory or models_dir()
    path = folder / "manifest.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"no model manifest at {path}; reinstall storegw or set STOREGW_MODELS_DIR") from None
    return {m["name"]: ModelSpec(m["name"], m["file"], m["sha256"], m["source"], m["licence"])
            for m in raw.get("models", [])}


def verified_path(name: str, directory: Path | None = None) -> Path:
    """The file of model ``name`` after checking its sha256 against the manifest."""
    folder = directory or models_dir()
    spec = manifest(folder).get(name)
    if spec is None:
        raise ModelError(f"model {name!r} is not in {folder / 'manifest.toml'}")
    path = folder / spec.file
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise ModelError(f"model file {path} is missing; rebuild it with models/build.sh") from None
    if digest != spec.sha256:
        raise ModelError(f"model file {path} is corrupt or altered (sha256 {digest[:12]}..., expected "
                         f"{spec.sha256[:12]}...); rebuild it with models/build.sh")
    return path


def verify_all(directory: Path | None = None) -> list[str]:
    """Verify every model of the manifest; returns their names."""
    names = list(manifest(directory))
    for name in names:
        verified_path(name, directory)
    return names


def session(name: str, threads: int = 1, directory: Path | None = None) -> Any:
    """An onnxruntime session for a verified model, with threads sized for a small box."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # CenterFace carries unused initializers; their warnings are noise
    return ort.InferenceSession(str(verified_path(name, directory)), options, providers=["CPUExecutionProvider"])
