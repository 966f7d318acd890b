"""The configs applied remotely, kept under ``{data_dir}/config/``, and the state file naming the committed one.

Layout (every file written to a temporary name, fsynced, renamed over the old one, the folder fsynced;
mode 0640, the folder 0750):

- ``config/NNNNNN.toml``: one applied config each, as TOML, numbered locally in arrival order (the
  backend's version string can be anything, so it never becomes a file name);
- ``config/state.json``: the committed slot (its version, sha256, when, and the sha256 the local file
  had then), a trial in progress if any, and the history of the slots kept (the last ``keep_versions``;
  the committed one is never pruned).

A version file whose sha256 differs from the one recorded, or a state file that cannot be read, is
renamed to ``*.corrupt-{unix time}`` (kept for a look, never used again) by the caller's choice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time

import msgspec

FOLDER = "config"
STATE_FILE = "state.json"
FILE_MODE = 0o640
FOLDER_MODE = 0o750
MAX_CONFIG_BYTES = 1024 * 1024


class StoreCorrupt(Exception):
    """A stored file that cannot be trusted; the message says which and why."""


class Entry(msgspec.Struct, kw_only=True):
    """One stored config: its slot (file number), the backend's version, its sha256, where it stands."""

    slot: int
    version: str
    sha256: str
    stored_at: float
    outcome: str = "trial"
    """trial, committed or rolled_back."""
    request_id: str | None = None
    committed_at: float | None = None
    local_sha256: str | None = None
    """sha256 of the local config file when this version was committed: the local file wins once it differs."""


class Trial(msgspec.Struct, kw_only=True):
    """A trial in progress, as saved before the config is applied (a restart finds it and rolls it back)."""

    slot: int
    started_at: float
    previous_version: str | None = None


class State(msgspec.Struct, kw_only=True):
    """The whole state file."""

    format: int = 1
    next_slot: int = 1
    committed: int | None = None
    """The slot of the committed config; None = the local file is in force."""
    trial: Trial | None = None
    history: list[Entry] = msgspec.field(default_factory=list)

    def entry(self, slot: int | None) -> Entry | None:
        """The history entry of ``slot``, if kept."""
        return next((e for e in self.history if e.slot == slot), None) if slot is not None else None


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` in lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return sha256_hex(handle.read())
    except OSError:
        return None


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a power cut leaves the old file or the new one, never a mix."""
    folder = os.path.dirname(path)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an older tmp left by a power cut keeps its mode otherwise
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut only once the folder is synced
    finally:
        os.close(dir_fd)


class ConfigStore:
    """Reads and writes ``{data_dir}/config/``; every method is blocking (run it in a thread from the loop)."""

    def __init__(self, data_dir: str, keep_versions: int = 5) -> None:
        """The store of ``data_dir``, keeping ``keep_versions`` versions besides the committed one."""
        self.folder = os.path.join(data_dir, FOLDER)
        self.keep_versions = keep_versions

    @property
    def state_path(self) -> str:
        """The state file's path."""
        return os.path.join(self.folder, STATE_FILE)

    def version_path(self, slot: int) -> str:
        """The file of one stored config."""
        return os.path.join(self.folder, f"{slot:06d}.toml")

    def load_state(self) -> State:
        """The state file (an empty state when there is none); StoreCorrupt when it cannot be read."""
        try:
            with open(self.state_path, "rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except FileNotFoundError:
            return State()
        except OSError as exc:
            raise StoreCorrupt(f"{self.state_path}: cannot read it ({exc.strerror})") from None
        try:
            return msgspec.json.decode(data, type=State)
        except msgspec.DecodeError as exc:
            raise StoreCorrupt(f"{self.state_path}: not a valid state file ({exc})") from None

    def save_state(self, state: State) -> None:
        """Replace the state file atomically."""
        self._ensure_folder()
        write_atomic(self.state_path, msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n")

    def add_version(self, state: State, text: str, version: str, request_id: str | None, now: float) -> Entry:
        """Write a new config file and record it in ``state`` (not saved: the caller saves it)."""
        self._ensure_folder()
        data = text.encode("utf-8")
        slot = state.next_slot
        while os.path.exists(self.version_path(slot)):  # a state file set aside restarts the count
            slot += 1
        write_atomic(self.version_path(slot), data)
        entry = Entry(slot=slot, version=version, sha256=sha256_hex(data), stored_at=now, request_id=request_id)
        state.next_slot = slot + 1
        state.history.append(entry)
        return entry

    def read_version(self, entry: Entry) -> str:
        """The TOML text of a stored config, checked against its sha256; StoreCorrupt when it does not match."""
        path = self.version_path(entry.slot)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise StoreCorrupt(f"{path}: cannot read it ({exc.strerror})") from None
        if sha256_hex(data) != entry.sha256:
            raise StoreCorrupt(f"{path}: its sha256 differs from the one recorded when version "
                               f"{entry.version!r} was stored (damaged or edited)")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise StoreCorrupt(f"{path}: not UTF-8 text") from None

    def set_aside(self, path: str) -> str | None:
        """Rename a file that cannot be trusted out of the way; its new name, or None if it was not there."""
        aside = f"{path}.corrupt-{int(time.time())}"
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return None
        return aside

    def prune(self, state: State) -> list[int]:
        """Forget the oldest versions beyond keep_versions (never the committed one or a trial); their slots."""
        keep = {state.committed, state.trial.slot if state.trial else None}
        removable = [e for e in state.history if e.slot not in keep]
        excess = len(state.history) - self.keep_versions
        gone = [e.slot for e in removable[:max(0, excess)]]
        state.history = [e for e in state.history if e.slot not in gone]
        return gone

    def delete_versions(self, slots: list[int]) -> None:
        """Delete the files of pruned slots (after the state without them is saved, so none is ever missing)."""
        for slot in slots:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.version_path(slot))

    def _ensure_folder(self) -> None:
        """Create the folder (0750) if needed."""
        os.makedirs(self.folder, mode=FOLDER_MODE, exist_ok=True)
