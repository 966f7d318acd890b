"""Checks of the files and paths a config names, so `config check` and `run` catch them before starting.

Each check returns one sentence saying what is wrong and what to do, or None; the contents of
secret files are read to check them but never shown.
"""

from __future__ import annotations

import os
import ssl
import stat
from urllib.parse import urlsplit

SECRET_MAX_BYTES = 64 * 1024
"""A secret file larger than this is surely the wrong file (and is not read whole)."""
UNIX_PATH_MAX = 107
"""Longest path a Unix socket can be bound to on Linux, in bytes (sun_path is 108 with its NUL)."""


def _regular_file(full: str) -> str | None:
    """None if ``full`` is a regular file this process can open for reading, else why not."""
    try:
        info = os.stat(full)
    except OSError as exc:
        return f"cannot read {full!r} ({exc.strerror}): check the path and its permissions"
    if stat.S_ISDIR(info.st_mode):
        return f"{full!r} is a directory, not a file: name the file itself"
    if not stat.S_ISREG(info.st_mode):
        return f"{full!r} is not a regular file (a pipe or device would block the start): name a plain file"
    if not os.access(full, os.R_OK):
        return f"cannot read {full!r} (permission denied): check the path and its permissions"
    return None


def read_bytes(full: str, limit: int) -> bytes:
    """Up to ``limit`` + 1 bytes of a file (OSError as open and read raise it)."""
    with open(full, "rb") as handle:
        return handle.read(limit + 1)


def secret_file_problem(full: str) -> str | None:
    """A secret file must be a readable regular file of UTF-8 text."""
    problem = _regular_file(full)
    if problem:
        return problem
    try:
        data = read_bytes(full, SECRET_MAX_BYTES)
    except OSError as exc:
        return f"cannot read {full!r} ({exc.strerror}): check the path and its permissions"
    if len(data) > SECRET_MAX_BYTES:
        return f"{full!r} is larger than {SECRET_MAX_BYTES // 1024} KiB, too large for a secret: is it the right file?"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{full!r} is not UTF-8 text: write the secret in it as UTF-8 (its content is never shown)"
    return None


def pem_file_problem(full: str, key: str) -> str | None:
    """A TLS file (ca_file, cert_file or key_file) must be readable and hold what its key says, in PEM."""
    problem = _regular_file(full)
    if problem:
        return problem
    try:
        data = read_bytes(full, 1024 * 1024)
    except OSError as exc:
        return f"cannot read {full!r} ({exc.strerror}): check the path and its permissions"
    if key == "key_file":
        if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
            return f"{full!r} holds no PEM private key: key_file must be the key of cert_file, in PEM"
        return None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        what = "the CA certificate that signed the broker's" if key == "ca_file" else "this gateway's certificate"
        return (f"{full!r} holds no PEM certificate: {key} must be {what}, in PEM "
                "(convert DER with `openssl x509 -inform der -in FILE -out FILE.pem`)")
    if key == "ca_file":
        try:
            ssl.create_default_context(cafile=full)
        except (ssl.SSLError, ValueError) as exc:
            return f"{full!r} is not a usable CA certificate ({_ssl_reason(exc)}): check that it is the PEM CA file"
    return None


def key_pair_problem(cert: str, key: str, password: str | None) -> str | None:
    """cert_file and key_file must load together (with key_password_file when the key is encrypted)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(cert, key, password=password or "")
    except ssl.SSLError as exc:
        reason = _ssl_reason(exc)
        if "KEY_VALUES_MISMATCH" in reason:
            return f"{key!r} is not the key of {cert!r}: give the key that belongs to cert_file"
        return (f"cannot load {key!r} with {cert!r} ({reason}): if the key is encrypted, key_password_file "
                "must hold its password")
    except (OSError, ValueError) as exc:
        return f"cannot load {key!r} with {cert!r} ({exc}): check both files"
    return None


def _ssl_reason(exc: BaseException) -> str:
    """OpenSSL's short reason of an error, e.g. KEY_VALUES_MISMATCH."""
    return str(getattr(exc, "reason", None) or exc)


def url_problem(url: str) -> str | None:
    """A broker URL must name a host and a port in range; credentials do not belong in it."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        return f"cannot be read ({exc}): write mqtt://host[:port] or mqtts://host[:port]"
    if not host:
        return "names no host: write mqtt://host[:port] or mqtts://host[:port]"
    if port == 0:
        return "port 0 is not a port: leave it out for the default (1883, or 8883 with mqtts)"
    if parts.username is not None or parts.password is not None:
        return "credentials in the url are not used (and would be shown): set username and password_file"
    return None


def socket_path_problem(path: str, data_dir: str) -> str | None:
    """The status socket must fit a Unix socket address and go where a socket can be made."""
    size = len(os.fsencode(path))
    if size > UNIX_PATH_MAX:
        return (f"the status socket path {path!r} is {size} bytes, and a Unix socket path can have at most "
                f"{UNIX_PATH_MAX}: set [diag] socket to a shorter path (or use a shorter data_dir)")
    if os.path.isdir(path):
        return f"the status socket path {path!r} is a directory: name a file in it, e.g. {path}/storegw.sock"
    if os.path.lexists(path) and not stat.S_ISSOCK(os.lstat(path).st_mode):
        return (f"the status socket path {path!r} is an existing file that is not a socket, and starting "
                "would replace it: choose another path for [diag] socket")
    folder = os.path.dirname(os.path.abspath(path))
    if folder != os.path.abspath(data_dir) and not os.path.isdir(folder):
        return f"the folder {folder!r} of the status socket does not exist: create it or change [diag] socket"
    return None


def data_dir_problem(path: str, writable: bool) -> str | None:
    """data_dir must be a directory (or creatable as one); with ``writable``, by this process too."""
    if os.path.lexists(path) and not os.path.isdir(path):
        return f"{path!r} exists and is not a directory: remove it or point data_dir at a directory"
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{path!r} cannot be created because {existing!r} is not a directory: fix data_dir"
    if not writable:
        return None
    if not os.access(existing, os.W_OK | os.X_OK):
        user = _user()
        if existing == os.path.abspath(path):
            return (f"{path!r} is not writable by {user}: give it to the user storegw runs as "
                    f"(chown -R that user {path})")
        return (f"{path!r} does not exist and {existing!r} is not writable by {user}: create {path} "
                "and give it to the user storegw runs as")
    return None


def _user() -> str:
    """This process's user, for messages: name and uid."""
    try:
        import pwd

        return f"user {pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


DATA_UMASK = 0o027
"""storegw's files are 0640 and its folders 0750 whatever umask it was started with (022 without
systemd): the storegw group, which may use the status socket and so already sees every event with
`storegw tail`, can read them (`storegw outbox stats`, backups); no one else can."""
OWN_FILE_PREFIXES = ("outbox.db",)
"""Names in data_dir that are storegw's: the outbox, its -wal, -shm, state file and corrupt copies."""
OWN_FOLDERS = ("state",)
"""Folders in data_dir that are storegw's, with everything in them (serial counter state)."""


def restrict_umask() -> int:
    """Add DATA_UMASK to this process's umask (a stricter one, e.g. systemd's UMask=0077, stays); the new one."""
    wanted = os.umask(DATA_UMASK) | DATA_UMASK
    os.umask(wanted)
    return wanted


def restrict_data_files(data_dir: str) -> list[str]:
    """Take group write and all of other's bits off storegw's own files in ``data_dir``.

    Files made by an earlier run under a looser umask are fixed this way. Only storegw's own names
    are touched (data_dir may be a shared folder); the socket keeps its mode; symlinks are not
    followed. Returns the paths whose mode could not be changed.
    """
    try:
        names = os.listdir(data_dir)
    except OSError:
        return []
    paths: list[str] = []
    for name in names:
        full = os.path.join(data_dir, name)
        if name.startswith(OWN_FILE_PREFIXES):
            paths.append(full)
        elif name in OWN_FOLDERS and os.path.isdir(full) and not os.path.islink(full):
            for folder, _dirs, files in os.walk(full):  # symlinked folders are listed, not entered
                paths.append(folder)
                paths.extend(os.path.join(folder, entry) for entry in files)
    failed = []
    for path in paths:
        try:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode) or stat.S_ISSOCK(info.st_mode) or not info.st_mode & 0o027:
                continue
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o027)
        except FileNotFoundError:
            continue
        except OSError:
            failed.append(path)
    return failed
