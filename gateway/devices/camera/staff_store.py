"""The uniform samples of a camera, kept as numbers in ``{data_dir}/staff/{camera_id}.json`` (mode 0640).

Each entry is a label the technician chose for the uniform (not a person), the colour layout
(``gateway.vision.appearance.SIZE`` numbers), how many frames it is the median of, and when it was
taken. Never an image. The file is written to a temporary name, fsynced and renamed over the old one.
"""

from __future__ import annotations

import contextlib
import os

import msgspec

from gateway.vision.appearance import SIZE

FOLDER = "staff"
FILE_MODE = 0o640
FOLDER_MODE = 0o750


class UniformSample(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One sampled uniform."""

    name: str
    signature: list[float]
    frames: int
    taken_at: float


class StaffFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole file."""

    format: int = 1
    uniforms: list[UniformSample] = msgspec.field(default_factory=list)


def staff_path(data_dir: str, camera_id: str) -> str:
    """Where a camera's uniform samples are kept."""
    return os.path.join(data_dir, FOLDER, f"{camera_id}.json")


def load_uniforms(data_dir: str, camera_id: str) -> list[UniformSample]:
    """The camera's samples; [] when none were taken. Raises ValueError for a file that is not one."""
    path = staff_path(data_dir, camera_id)
    try:
        with open(path, "rb") as handle:
            stored = msgspec.json.decode(handle.read(), type=StaffFile)
    except FileNotFoundError:
        return []
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: not a staff sample file ({exc})") from None
    bad = [u.name for u in stored.uniforms if len(u.signature) != SIZE]
    if bad:
        raise ValueError(f"{path}: uniform {bad[0]!r} has not {SIZE} numbers (taken with another version?)")
    return stored.uniforms


def save_uniform(data_dir: str, camera_id: str, sample: UniformSample) -> str:
    """Add or replace (same name) one sample; returns the file's path."""
    path = staff_path(data_dir, camera_id)
    os.makedirs(os.path.dirname(path), mode=FOLDER_MODE, exist_ok=True)
    uniforms = [u for u in load_uniforms(data_dir, camera_id) if u.name != sample.name] + [sample]
    data = msgspec.json.encode(StaffFile(uniforms=uniforms))
    temporary = f"{path}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)  # the umask may have narrowed it; 0640 whatever it was
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
