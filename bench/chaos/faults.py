"""The chaos suite's lab (broker, proxy, namespaces, tmpfs, the daemon) and the faults it injects.

Every wait here is bounded. The lab's watchdog (``Lab.recover``) treats a daemon that neither
delivers nor exits as a finding: it says what the daemon reports about itself (or that its status
socket is silent), kills it with SIGKILL and starts it again, as systemd's watchdog would.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.chaos.consumer import Consumer, count_ranges, merge_ranges
from bench.chaos.proxy import ChaosProxy

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script rather than with -m from the checkout
    sys.path.insert(0, str(ROOT))
from tests.support.broker import Mosquitto, free_port, mosquitto_binary  # noqa: E402

STORE = "chaos"
GATEWAY = "gw-1"
PREFIX = "storegw/v1"
BASE_TOPIC = f"{PREFIX}/{STORE}/{GATEWAY}"
NETNS_ADDR_BROKER = "10.213.0.1"
NETNS_ADDR_GATEWAY = "10.213.0.2"
TMPFS_SIZE_KB = 512 * 1024
"""The data_dir tmpfs between disk faults (only what is used costs RAM)."""
DISK_SLACK_KB = 384
"""A full-disk fault shrinks the tmpfs to what is used plus this."""
STATUS_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 30.0
RECOVER_TIMEOUT_S = 30.0


def now() -> float:
    """Monotonic seconds."""
    return time.monotonic()


def run_cmd(args: list[str], timeout: float = 15.0, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a short command, bounded, capturing its output (never raises on a non-zero exit)."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"timed out after {timeout:g} s")
    except OSError as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


# ---- the daemon's config ---------------------------------------------------------------
@dataclass(frozen=True)
class GatewayConfig:
    """The settings the suite varies; ``text()`` renders the TOML."""

    url: str
    data_dir: str
    rate: float = 300.0
    payload_bytes: int = 64
    health_interval_s: float = 5.0
    keepalive_s: int = 5
    puback_timeout_s: float = 3.0
    synthetic: bool = True
    extra_mqtt: str = ""

    def text(self) -> str:
        """The config file's TOML."""
        return f"""# written by bench/chaos
[gateway]
store_id = "{STORE}"
gateway_id = "{GATEWAY}"
data_dir = "{self.data_dir}"
health_interval_s = {self.health_interval_s}
log_level = "info"

[mqtt]
url = "{self.url}"
topic_prefix = "{PREFIX}"
keepalive_s = {self.keepalive_s}
connect_timeout_s = 3
reconnect_min_s = 0.2
reconnect_max_s = 2.0
puback_timeout_s = {self.puback_timeout_s}
{self.extra_mqtt}
[outbox]
retain_acked_s = 864000

[[devices]]
id = "load"
kind = "synthetic"
enabled = {"true" if self.synthetic else "false"}
rate = {self.rate}
payload_bytes = {self.payload_bytes}
"""


def valid_change(config: GatewayConfig, base_rate: float, rng: random.Random) -> tuple[GatewayConfig, str]:
    """A valid config that differs in one way (some restart the device, one restarts the broker link)."""
    kind = rng.choice(["rate", "payload", "health", "keepalive"])
    if kind == "rate":
        rate = base_rate if config.rate != base_rate else round(base_rate * rng.choice([0.8, 0.9, 1.1]), 1)
        return replace(config, rate=rate), f"rate {config.rate:g} -> {rate:g}/s"
    if kind == "payload":
        size = 64 if config.payload_bytes != 64 else 160
        return replace(config, payload_bytes=size), f"payload_bytes {config.payload_bytes} -> {size}"
    if kind == "health":
        interval = 5.0 if config.health_interval_s != 5.0 else 7.0
        return replace(config, health_interval_s=interval), (f"health_interval_s {config.health_interval_s:g} "
                                                             f"-> {interval:g}")
    keepalive = 5 if config.keepalive_s != 5 else 6
    what = f"mqtt keepalive_s {config.keepalive_s} -> {keepalive} (link restart)"
    return replace(config, keepalive_s=keepalive), what


def invalid_config(kind: str, config: GatewayConfig, workdir: Path) -> bytes:
    """The bytes of an invalid config of one kind (the daemon must refuse it and keep running)."""
    text = config.text()
    if kind == "toml-syntax":
        return (text + "\n[gateway\nbroken = \n").encode()
    if kind == "unknown-key":
        return text.replace("[gateway]\n", '[gateway]\ncolour = "red"\n', 1).encode()
    if kind == "bad-value":
        return re.sub(r"(?m)^rate = .*$", "rate = -5", text).encode()
    if kind == "deep-nesting":
        return ("deep = " + "[" * 5000 + "]" * 5000 + "\n" + text).encode()
    if kind == "not-utf8":
        return b"\xff\xfe" + text.encode()
    if kind == "empty":
        return b""
    secret = workdir / "secrets"
    secret.mkdir(exist_ok=True)
    if kind == "password-not-utf8":
        path = secret / "password-not-utf8"
        path.write_bytes(b"\xff\xfe")
    else:  # password-is-a-directory
        path = secret / "password-dir"
        path.mkdir(exist_ok=True)
    extra = f'username = "chaos"\npassword_file = "{path}"\n'
    return replace(config, extra_mqtt=config.extra_mqtt + extra).text().encode()


INVALID_KINDS = ["toml-syntax", "unknown-key", "bad-value", "deep-nesting", "not-utf8", "empty",
                 "password-not-utf8", "password-is-a-directory"]


# ---- the daemon process ------------------------------------------------------------------
def daemon_env(root: Path) -> dict[str, str]:
    """The environment of the daemon and of `storegw` commands: ``root``'s packages first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def proc_memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB; (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values["VmRSS"], values["VmHWM"]


def request_status(path: str, timeout: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
    """The daemon's status from its socket, or None when nobody answers in time."""
    deadline = now() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b'{"cmd": "status"}\n')
            data = b""
            while not data.endswith(b"\n") and now() < deadline and len(data) < 16 * 1024 * 1024:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        value = json.loads(data)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


class GatewayProcess:
    """`storegw run --config FILE` as a subprocess (inside a network namespace when given one)."""

    def __init__(self, config_path: Path, log_path: Path, socket_path: str, netns: str | None = None,
                 root: Path = ROOT) -> None:
        """A daemon not started yet; ``root`` is the tree whose `gateway` package runs."""
        self.config_path = config_path
        self.root = root
        self.log_path = log_path
        self.socket_path = socket_path
        self.netns = netns
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.peak_rss_kb = 0
        self.peak_hwm_kb = 0
        self.last_hwm_kb = 0

    def start(self) -> None:
        """Start the daemon (its output appended to the log)."""
        command = [sys.executable, "-m", "gateway.cli.main", "run", "--config", str(self.config_path)]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]  # ip execs: the pid is the daemon's
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== chaos: start #{self.starts + 1} at {time.strftime('%H:%M:%S')} ====\n".encode())
            self.process = subprocess.Popen(command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            env=daemon_env(self.root))
        self.starts += 1

    @property
    def pid(self) -> int | None:
        """The daemon's pid while it runs."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        """Exit code once it has ended."""
        return None if self.process is None else self.process.poll()

    def sample_memory(self) -> tuple[int, int]:
        """Read VmRSS and VmHWM now and keep the peaks."""
        pid = self.pid
        if pid is None:
            return 0, 0
        rss, hwm = proc_memory_kb(pid)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
        self.last_hwm_kb = hwm
        return rss, hwm

    def kill9(self) -> None:
        """SIGKILL (as a crash or power cut), after a last memory sample."""
        if self.process is None:
            return
        self.sample_memory()
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait (bounded); SIGKILL when it does not end. Returns the exit code, None if killed."""
        if self.process is None or self.process.poll() is not None:
            return self.returncode()
        self.sample_memory()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def sighup(self) -> None:
        """Ask for a reload."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def status(self, timeout: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
        """The daemon's status, or None."""
        return request_status(self.socket_path, timeout) if self.alive() else None

    def log_size(self) -> int:
        """Bytes in the log so far (an offset for ``log_since``)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 4 * 1024 * 1024) -> str:
        """The log from ``offset`` on (at most ``limit`` bytes)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                return handle.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 5, since: int = 0) -> str:
        """The last lines of the log since ``since``, one string."""
        text = self.log_since(max(since, self.log_size() - 64 * 1024))
        return " | ".join(line.strip()[:240] for line in text.strip().splitlines()[-lines:])


# ---- network namespaces ------------------------------------------------------------------
class Netns:
    """Two namespaces of our own joined by a veth pair: the daemon in one, the proxy's listener in the other."""

    def __init__(self) -> None:
        """Names unique to this process (veth names stay within 15 characters)."""
        tag = f"{os.getpid() % 100000}"
        self.gw_ns = f"storegw-chaos-{tag}-gw"
        self.br_ns = f"storegw-chaos-{tag}-br"
        self.gw_dev = f"scg{tag}"
        self.br_dev = f"scb{tag}"
        self.ready = False

    @staticmethod
    def available() -> str | None:
        """None when namespaces can be used here, else the reason they cannot."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is not installed"
        return None

    def setup(self) -> str | None:
        """Create both namespaces and the link; None on success, else why not (and nothing left behind)."""
        steps = [["ip", "netns", "add", self.gw_ns], ["ip", "netns", "add", self.br_ns],
                 ["ip", "link", "add", self.gw_dev, "netns", self.gw_ns, "type", "veth",
                  "peer", "name", self.br_dev, "netns", self.br_ns],
                 ["ip", "-n", self.gw_ns, "addr", "add", f"{NETNS_ADDR_GATEWAY}/30", "dev", self.gw_dev],
                 ["ip", "-n", self.br_ns, "addr", "add", f"{NETNS_ADDR_BROKER}/30", "dev", self.br_dev],
                 ["ip", "-n", self.gw_ns, "link", "set", "lo", "up"],
                 ["ip", "-n", self.br_ns, "link", "set", "lo", "up"],
                 ["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "up"],
                 ["ip", "-n", self.br_ns, "link", "set", self.br_dev, "up"]]
        for step in steps:
            done = run_cmd(step)
            if done.returncode != 0:
                self.teardown()
                return f"`{' '.join(step)}` failed: {done.stderr.strip() or done.returncode}"
        self.ready = True
        return None

    def listen_socket(self, port: int = 1883) -> socket.socket:
        """A TCP socket listening on the broker-side address, made inside the broker-side namespace."""
        libc = ctypes.CDLL(None, use_errno=True)
        result: dict[str, Any] = {}

        def inside() -> None:
            """Join the namespace on this thread only (network namespaces are per thread), bind, listen."""
            fd = os.open(f"/var/run/netns/{self.br_ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                    result["error"] = OSError(ctypes.get_errno(), "setns failed")
                    return
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((NETNS_ADDR_BROKER, port))
                sock.listen(64)
                sock.setblocking(False)
                result["socket"] = sock
            except OSError as exc:
                result["error"] = exc
            finally:
                os.close(fd)

        thread = threading.Thread(target=inside, name="netns-bind")
        thread.start()
        thread.join(10)
        if "socket" not in result:
            raise result.get("error") or TimeoutError("binding inside the namespace did not finish")
        return result["socket"]

    def down(self) -> bool:
        """Take the daemon's side of the link down (a cable pulled)."""
        return run_cmd(["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "down"]).returncode == 0

    def up(self) -> bool:
        """Bring it back (the kernel restores the connected route)."""
        return run_cmd(["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "up"]).returncode == 0

    def teardown(self) -> None:
        """Delete both namespaces (which deletes the veth pair)."""
        for name in (self.gw_ns, self.br_ns):
            run_cmd(["ip", "netns", "del", name])
        self.ready = False


# ---- the data_dir on tmpfs --------------------------------------------------------------
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


# ---- one round's record ------------------------------------------------------------------
@dataclass
class RoundRecord:
    """What happened in one round."""

    number: int
    fault: str
    detail: str = ""
    started: float = 0.0
    ended: float = 0.0
    new_events: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Liveness findings: the daemon died, hung, refused a valid config, starved, did not answer."""
    stall_s: float = 0.0
    peak_rss_kb: int = 0

    def note(self, text: str) -> None:
        """Something worth a line in the report."""
        self.notes.append(text)

    def problem(self, text: str) -> None:
        """A finding (printed at once, too)."""
        self.problems.append(text)
        print(f"    !! round {self.number} ({self.fault}): {text}", flush=True)


# ---- the lab ---------------------------------------------------------------------------
class Lab:
    """Everything one chaos run needs, and the watchdog that keeps the run going."""

    def __init__(self, workdir: Path, *, rate: float, net: str, tmpfs: bool, sabotage: str | None = None,
                 daemon_root: Path = ROOT) -> None:
        """Plan the lab in ``workdir``; ``setup()`` builds it."""
        self.workdir = workdir
        self.daemon_root = daemon_root
        self.base_rate = rate
        self.net_wanted = net
        self.tmpfs_wanted = tmpfs
        self.sabotage = sabotage
        self.data_dir = workdir / "data"
        self.config_path = workdir / "storegw.toml"
        self.broker: Mosquitto | None = None
        self.proxy: ChaosProxy | None = None
        self.netns: Netns | None = None
        self.tmpfs: Tmpfs | None = None
        self.gateway: GatewayProcess | None = None
        self.consumer: Consumer | None = None
        self.config: GatewayConfig | None = None
        self.skipped: dict[str, str] = {}
        """Fault kinds this lab cannot inject, with the reason."""
        self.net_mode = "proxy"
        self.fault_label: str | None = None
        self.fault_intervals: list[tuple[float, float, str]] = []
        self._fault_started = 0.0
        self.samples: list[tuple[float, bool]] = []
        """(time, the daemon is up, answers, says it is connected, and no fault is active)."""
        self.latest_status: dict[str, Any] | None = None
        self.round: RoundRecord | None = None
        self.watchdog_restarts = 0
        self.unexpected_exits = 0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cleaned = False

    # ---- build and tear down ---------------------------------------------------------------
    def setup(self) -> None:
        """Broker, proxy (in a namespace if asked), tmpfs, consumer, config, daemon; waits for the first events."""
        if mosquitto_binary() is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.tmpfs_wanted:
            tmpfs = Tmpfs(self.data_dir)
            reason = tmpfs.mount()
            if reason is None:
                self.tmpfs = tmpfs
            else:
                self.skipped["disk-full"] = reason
        else:
            self.skipped["disk-full"] = "tmpfs not asked for (--no-tmpfs)"
        self.broker = self._broker()
        sock = None
        url_host = "127.0.0.1"
        if self.net_wanted in ("netns", "auto"):
            reason = Netns.available()
            netns = Netns()
            if reason is None:
                reason = netns.setup()
            if reason is None:
                self.netns = netns
                sock = netns.listen_socket(1883)
                url_host, self.net_mode = NETNS_ADDR_BROKER, "netns"
            elif self.net_wanted == "netns":
                raise RuntimeError(f"--net netns: {reason}")
            else:
                self.skipped["partition"] = reason
        else:
            self.skipped["partition"] = "network namespaces not asked for (--net proxy)"
        self.proxy = ChaosProxy(("127.0.0.1", self.broker.port), sock=sock).start()
        port = 1883 if sock is not None else self.proxy.port
        self.config = GatewayConfig(url=f"mqtt://{url_host}:{port}", data_dir=str(self.data_dir), rate=self.base_rate)
        self.write_config(self.config)
        self.consumer = Consumer("127.0.0.1", self.broker.port, BASE_TOPIC, sabotage=self.sabotage).start()
        self.gateway = GatewayProcess(self.config_path, self.workdir / "gateway.log",
                                      str(self.data_dir / "storegw.sock"),
                                      netns=self.netns.gw_ns if self.netns else None, root=self.daemon_root)
        self.gateway.start()
        self._sampler = threading.Thread(target=self._sample_loop, name="chaos-sampler", daemon=True)
        self._sampler.start()
        deadline = now() + 30
        while self.consumer.new_count() < 10 and now() < deadline:
            if not self.gateway.alive():
                raise RuntimeError(f"the daemon exited at start (rc {self.gateway.returncode()}): "
                                   f"{self.gateway.log_tail(8)}")
            time.sleep(0.2)
        if self.consumer.new_count() < 10:
            raise RuntimeError(f"no event arrived within 30 s of starting the daemon: {self.gateway.log_tail(8)}")

    def _broker(self) -> Mosquitto:
        """A mosquitto on a free loopback port, its files in the workdir."""
        folder = self.workdir / "mosquitto"
        folder.mkdir(exist_ok=True)
        return Mosquitto(port=free_port(), workdir=str(folder)).start()

    def cleanup(self) -> None:
        """Stop everything this lab started and undo mounts and namespaces; safe to call twice."""
        if self._cleaned:
            return
        self._cleaned = True
        self._stop.set()
        if self.gateway is not None and self.gateway.alive():
            self.gateway.terminate(15)
        for step in (lambda: self.consumer and self.consumer.stop(), lambda: self.proxy and self.proxy.stop(),
                     lambda: self.broker and self.broker.stop()):
            with contextlib.suppress(Exception):
                step()
        if self._sampler is not None:
            self._sampler.join(5)
        if self.tmpfs is not None:
            self.tmpfs.unmount()
        if self.netns is not None:
            self.netns.teardown()

    def write_config(self, config: GatewayConfig | None = None, raw: bytes | None = None) -> None:
        """Replace the config file atomically (a reload must never read half a file)."""
        if config is not None:
            self.config = config
            raw = config.text().encode()
        assert raw is not None
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, self.config_path)

    # ---- observation ---------------------------------------------------------------------
    def _sample_loop(self) -> None:
        """Every second: memory, status, and whether the daemon is up, connected and fault-free."""
        connected, pid = False, None
        while not self._stop.is_set():
            gateway = self.gateway
            good = False
            if gateway is not None and gateway.alive():
                rss, _ = gateway.sample_memory()
                record = self.round
                if record is not None:
                    record.peak_rss_kb = max(record.peak_rss_kb, rss)
                if gateway.pid != pid:  # a new process is not connected until it says so
                    connected, pid = False, gateway.pid
                status = gateway.status(1.5)
                if status is not None:  # a slow answer keeps the last known state: it must not hide a stall
                    self.latest_status = status
                    connected = bool((status.get("mqtt") or {}).get("connected"))
                good = connected and self.fault_label is None and gateway.alive()
            with self._lock:
                self.samples.append((now(), good))
            self._stop.wait(1.0)

    def fault_begin(self, label: str) -> None:
        """From now on a fault is active (stalls do not count, the watchdog waits)."""
        self.fault_label = label
        self._fault_started = now()

    def fault_end(self) -> None:
        """The fault is cleared."""
        if self.fault_label is not None:
            self.fault_intervals.append((self._fault_started, now(), self.fault_label))
        self.fault_label = None

    # ---- the watchdog ----------------------------------------------------------------------
    def ensure_broker(self, record: RoundRecord) -> None:
        """Restart the broker if it died without us (and say so)."""
        assert self.broker
        process = self.broker.process
        if process is None or process.poll() is not None:
            if process is not None:
                record.problem(f"mosquitto exited by itself (rc {process.poll()}); restarted")
            self.broker.process = None
            self.broker.start()

    def check_alive(self, record: RoundRecord, when: str) -> bool:
        """True when the daemon runs; otherwise report its exit and start it again."""
        assert self.gateway
        if self.gateway.alive():
            return True
        rc = self.gateway.returncode()
        self.unexpected_exits += 1
        record.problem(f"the daemon exited by itself {when} (rc {rc}): {self.gateway.log_tail(3)}")
        self.gateway.start()
        return False

    def steady(self, seconds: float, record: RoundRecord) -> None:
        """Let the load run, watching that the daemon stays up."""
        end = now() + seconds
        while now() < end:
            self.check_alive(record, "under steady load")
            time.sleep(min(0.2, max(0.0, end - now())))

    def diagnose(self) -> str:
        """What a daemon that does not deliver says about itself (two looks 3 s apart)."""
        assert self.gateway
        first = self.gateway.status(3.0)
        if first is None:
            return "its status socket does not answer within 3 s (it neither works nor exits)"
        time.sleep(3.0)
        second = self.gateway.status(3.0) or first
        outbox1, outbox2 = first.get("outbox") or {}, second.get("outbox") or {}
        mqtt = second.get("mqtt") or {}
        moved = (outbox2.get("last_seq") or 0) - (outbox1.get("last_seq") or 0)
        parts = [f"last_seq {outbox1.get('last_seq')} -> {outbox2.get('last_seq')} in 3 s"
                 + (" (the writer is stuck)" if moved == 0 else ""),
                 f"queued_in_ram {outbox2.get('queued_in_ram')}", f"pending {outbox2.get('pending')}",
                 f"write_errors {outbox2.get('write_errors')}", f"connected {mqtt.get('connected')}",
                 f"inflight {mqtt.get('inflight')}"]
        error = outbox2.get("last_error") or mqtt.get("last_error")
        if error:
            parts.append(f"last error: {str(error)[:160]}")
        return "; ".join(parts)

    def recover(self, record: RoundRecord, timeout: float = RECOVER_TIMEOUT_S, what: str = "after the fault") -> bool:
        """Wait (bounded) for live events to flow; if they do not, diagnose, SIGKILL, restart, wait again."""
        assert self.gateway and self.consumer
        need = max(5, int(self.config.rate * 0.5 if self.config else 50))
        for attempt in (1, 2):
            start_count = self.consumer.new_count()
            deadline = now() + timeout
            while now() < deadline:
                self.ensure_broker(record)
                if not self.check_alive(record, what):
                    start_count = self.consumer.new_count()
                if self.consumer.new_count() - start_count >= need:
                    return True
                time.sleep(0.2)
            if not self.gateway.alive():
                continue
            diagnosis = self.diagnose()
            self.watchdog_restarts += 1
            record.problem(f"watchdog: no new event for {timeout:g} s {what} while the daemon runs; {diagnosis}; "
                           f"log: {self.gateway.log_tail(2)}; killed (SIGKILL) and restarted")
            self.gateway.kill9()
            self.gateway.start()
            what = "after the watchdog restart"
            if attempt == 2:
                break
        record.problem(f"still no live events {what}")
        return False

    def last_seq(self) -> int:
        """The daemon's last committed sequence (its status, or the highest received)."""
        assert self.consumer
        status = self.gateway.status(2.0) if self.gateway else None
        if status is not None:
            with contextlib.suppress(TypeError, ValueError):
                return int((status.get("outbox") or {}).get("last_seq") or 0)
        return self.consumer.max_seq()


# ---- the faults ----------------------------------------------------------------------------
Fault = Callable[[Lab, random.Random, RoundRecord], None]


def gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 the daemon, leave it down a moment, start it again."""
    assert lab.gateway
    down = rng.uniform(0.3, 3.0)
    record.detail = f"down {down:.1f} s"
    lab.fault_begin("gateway-kill")
    lab.gateway.kill9()
    time.sleep(down)
    lab.gateway.start()
    lab.fault_end()
    lab.recover(record, what="after the restart")


def broker_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 mosquitto (it loses what it held), restart it on the same port."""
    assert lab.broker and lab.consumer
    down = rng.uniform(1.0, 5.0)
    record.detail = f"down {down:.1f} s"
    lab.fault_begin("broker-kill")
    lab.broker.stop()
    time.sleep(down)
    lab.broker.start()
    lab.fault_end()
    if not lab.consumer.wait_connected(15):
        record.problem("the consumer did not reconnect to the restarted broker within 15 s")
    lab.recover(record, what="after the broker restart")


def blackhole(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """The proxy stops forwarding (bytes wait, nothing is closed), then heals."""
    assert lab.proxy
    hold = rng.uniform(3.0, 12.0)
    record.detail = f"{hold:.1f} s"
    lab.fault_begin("blackhole")
    lab.proxy.blackhole()
    time.sleep(hold)
    lab.proxy.heal()
    lab.fault_end()
    lab.recover(record, what="after the black hole healed")


def reset(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """The proxy resets every connection (RST both ways), one to three times."""
    assert lab.proxy
    times = rng.randint(1, 3)
    gaps = [rng.uniform(0.3, 2.0) for _ in range(times)]
    lab.fault_begin("reset")
    closed = []
    for gap in gaps:
        closed.append(lab.proxy.reset())
        time.sleep(gap)
    lab.fault_end()
    record.detail = f"{times}x, {sum(closed)} connections reset"
    lab.recover(record, what="after the resets")


def partition(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """`ip link set DEV down` on the daemon's side of the veth, then up."""
    assert lab.netns
    hold = rng.uniform(3.0, 12.0)
    record.detail = f"link down {hold:.1f} s"
    lab.fault_begin("partition")
    if not lab.netns.down():
        record.note("ip link set down failed")
    time.sleep(hold)
    if not lab.netns.up():
        record.problem("ip link set up failed")
    lab.fault_end()
    lab.recover(record, what="after the link came back")


def disk_full(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Shrink the data_dir tmpfs to what is used plus a little, wait for the daemon to hit it, grow it back."""
    assert lab.tmpfs and lab.gateway
    hold = rng.uniform(2.0, 6.0)
    used = lab.tmpfs.used_kb()
    error = lab.tmpfs.resize(used + DISK_SLACK_KB)
    if error:
        record.note(f"could not shrink the tmpfs ({error}); fault skipped")
        return
    lab.fault_begin("disk-full")
    offset = lab.gateway.log_size()
    start = now()
    first_status = lab.gateway.status() or {}
    errors0 = int((first_status.get("outbox") or {}).get("write_errors") or 0)
    hit = ""
    max_queued = 0
    while now() - start < 40 and not hit:
        status = lab.gateway.status() or {}
        outbox = status.get("outbox") or {}
        max_queued = max(max_queued, int(outbox.get("queued_in_ram") or 0))
        if "full" in lab.gateway.log_since(offset).lower():
            hit = "log"
        elif int(outbox.get("write_errors") or 0) > errors0:
            hit = "write_errors"
        elif "full" in str(outbox.get("last_error") or "").lower():
            hit = "last_error"
        time.sleep(0.5)
    filled = now() - start
    end = now() + hold
    while now() < end:
        status = lab.gateway.status() or {}
        max_queued = max(max_queued, int((status.get("outbox") or {}).get("queued_in_ram") or 0))
        time.sleep(0.5)
    error = lab.tmpfs.resize(lab.tmpfs.size_kb)
    lab.fault_end()
    record.detail = (f"tmpfs {used + DISK_SLACK_KB} kB, " + (f"full after {filled:.1f} s ({hit})" if hit else
                     f"no sign of a full disk in {filled:.0f} s") + f", held {hold:.1f} s, "
                     f"up to {max_queued} events in RAM")
    if error:
        record.problem(f"could not grow the tmpfs back ({error})")
    lab.recover(record, timeout=45.0, what="after the disk had room again")


def _reload_and_check(lab: Lab, record: RoundRecord, expect_ok: bool, label: str, wait: float = 10.0) -> None:
    """SIGHUP, then check the daemon lives and logs the reload (or the refusal)."""
    assert lab.gateway
    offset = lab.gateway.log_size()
    lab.gateway.sighup()
    deadline = now() + wait
    verdict = ""
    while now() < deadline and not verdict:
        text = lab.gateway.log_since(offset).lower()
        if "refused" in text:
            verdict = "refused"
        elif "reloaded" in text:
            verdict = "reloaded"
        elif not lab.gateway.alive():
            break
        time.sleep(0.2)
    if not lab.gateway.alive():
        lab.check_alive(record, f"on a reload ({label})")
        return
    if expect_ok and verdict == "refused":
        record.problem(f"a valid config was refused on reload ({label}): {lab.gateway.log_tail(1, offset)}")
    elif not expect_ok and verdict == "reloaded":
        record.problem(f"an invalid config was accepted on reload ({label})")
    elif not verdict:
        record.note(f"no 'reloaded' or 'refused' in the log within {wait:g} s of SIGHUP ({label})")


def reload_valid(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """SIGHUP under load with one valid change."""
    assert lab.config
    new, what = valid_change(lab.config, lab.base_rate, rng)
    record.detail = what
    lab.write_config(new)
    _reload_and_check(lab, record, True, what)
    lab.recover(record, what="after a valid reload")


def reload_invalid(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """SIGHUP under load with an invalid config: it must be refused while delivery goes on; then a valid one."""
    assert lab.config and lab.consumer
    kind = rng.choice(INVALID_KINDS)
    record.detail = kind
    good = lab.config
    lab.write_config(raw=invalid_config(kind, good, lab.workdir))
    before = lab.consumer.new_count()
    _reload_and_check(lab, record, False, kind, wait=6.0)
    time.sleep(2.0)
    delivered = lab.consumer.new_count() - before
    if lab.gateway and lab.gateway.alive() and delivered == 0:
        record.note(f"no event delivered in the seconds after the refused reload ({kind})")
    lab.write_config(good)
    _reload_and_check(lab, record, True, "the valid config again")
    lab.recover(record, what=f"after an invalid reload ({kind})")


@dataclass
class Storm:
    """A replay storm in flight."""

    started: float
    live_above: int
    requests: dict[str, tuple[int, int]]


def storm_start(lab: Lab, rng: random.Random, record: RoundRecord) -> Storm:
    """Send several large, overlapping `cmd/replay` requests at once."""
    assert lab.consumer
    last = max(1, lab.last_seq())
    count = rng.randint(3, 6)
    requests: dict[str, tuple[int, int]] = {}
    run_id = uuid.uuid4().hex[:6]
    for i in range(count):
        span = rng.randint(min(last, 20_000), min(last, 100_000))
        lo = rng.randint(1, max(1, last - span + 1))
        requests[f"chaos-storm-{run_id}-{i}"] = (lo, lo + span - 1)
    union = count_ranges(merge_ranges(requests.values()))
    record.detail = (f"{count} requests, {sum(hi - lo + 1 for lo, hi in requests.values()):,} numbers asked, "
                     f"{union:,} distinct, last_seq {last:,}")
    storm = Storm(now(), last, requests)
    for request_id, (lo, hi) in requests.items():
        if not lab.consumer.command("replay", {"from_seq": lo, "to_seq": hi, "request_id": request_id}):
            record.note(f"replay request {request_id} not accepted by the broker within 10 s")
    return storm


def storm_finish(lab: Lab, storm: Storm, record: RoundRecord, timeout: float = 150.0) -> None:
    """Wait (bounded) for every answer and for live delivery to be back near its rate; report both."""
    assert lab.consumer and lab.config
    rate = lab.config.rate
    answered: dict[str, dict[str, Any]] = {}
    recovered_at: float | None = None
    worst_window = float("inf")
    deadline = storm.started + timeout
    while now() < deadline:
        lab.check_alive(record, "during a replay storm")
        for request_id in storm.requests:
            if request_id not in answered:
                answers = lab.consumer.answers_for(request_id)
                if answers:
                    answered[request_id] = answers[-1].payload
        t = now()
        if t - storm.started >= 3.0:
            window = lab.consumer.new_between(t - 3.0, t, above=storm.live_above) / 3.0
            worst_window = min(worst_window, window)
            if window >= 0.8 * rate and recovered_at is None and len(answered) == len(storm.requests):
                recovered_at = t
        if recovered_at is not None:
            break
        time.sleep(0.5)
    elapsed = now() - storm.started
    first10 = lab.consumer.new_between(storm.started, storm.started + min(10.0, elapsed),
                                       above=storm.live_above) / max(0.1, min(10.0, elapsed))
    ok = sum(1 for a in answered.values() if a.get("ok") is True)
    busy = sum(1 for a in answered.values() if a.get("ok") is False and "busy" in str(a.get("error", "")))
    replayed = sum(int(a.get("replayed") or 0) for a in answered.values() if isinstance(a.get("replayed"), int))
    record.note(f"storm: {len(answered)}/{len(storm.requests)} answered ({ok} ok, {busy} busy), "
                f"{replayed:,} replayed per the answers; live {first10:.0f}/s in its first 10 s, worst 3-s window "
                f"{0 if worst_window == float('inf') else worst_window:.0f}/s (rate {rate:g}/s); "
                + (f"back to >= 80 % after {recovered_at - storm.started:.1f} s" if recovered_at else
                   f"not back to 80 % within {timeout:g} s"))
    if len(answered) < len(storm.requests):
        record.problem(f"replay storm: {len(storm.requests) - len(answered)} of {len(storm.requests)} requests "
                       f"got no answer within {timeout:g} s")
    if first10 < 0.5 * rate:
        record.problem(f"replay storm starved live delivery: {first10:.0f}/s in the storm's first 10 s "
                       f"(rate {rate:g}/s)")


def replay_storm(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Several large replays while live events flow."""
    storm = storm_start(lab, rng, record)
    storm_finish(lab, storm, record)
    lab.recover(record, what="after a replay storm")


def storm_reload(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """A replay storm, and a valid reload that restarts the broker link in the middle of it."""
    assert lab.config and lab.consumer
    storm = storm_start(lab, rng, record)
    time.sleep(rng.uniform(0.5, 3.0))
    new = replace(lab.config, keepalive_s=5 if lab.config.keepalive_s != 5 else 6)
    since = now()
    lab.write_config(new)
    _reload_and_check(lab, record, True, "link change during a replay storm")
    storm_finish(lab, storm, record)
    reasons = [str(s.get("reason")) for s in lab.consumer.states_since(since) if s.get("online") is False]
    if reasons:
        record.note(f"offline states seen: {', '.join(reasons)}")
    if "connection lost" in reasons:
        record.problem("a reload during a replay published the will 'connection lost', not 'reconfiguring'")
    lab.recover(record, what="after a reload during a replay storm")


def broker_and_gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 the broker, then the daemon while the broker is down; broker back first, then the daemon."""
    assert lab.broker and lab.gateway and lab.consumer
    gap, down = rng.uniform(0.5, 2.0), rng.uniform(0.5, 3.0)
    record.detail = f"daemon killed {gap:.1f} s into a {gap + down:.1f} s broker outage"
    lab.fault_begin("broker+gateway-kill")
    lab.broker.stop()
    time.sleep(gap)
    lab.gateway.kill9()
    time.sleep(down)
    lab.broker.start()
    lab.gateway.start()
    lab.fault_end()
    if not lab.consumer.wait_connected(15):
        record.problem("the consumer did not reconnect to the restarted broker within 15 s")
    lab.recover(record, what="after the broker and the daemon restarted")


def cut_and_gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Cut the network (link down, or a black hole), kill -9 the daemon, start it while cut, then heal."""
    assert lab.gateway and lab.proxy
    hold = rng.uniform(2.0, 6.0)
    how = "link down" if lab.netns else "black hole"
    record.detail = f"{how}; daemon restarted while cut; healed after {hold:.1f} s"
    lab.fault_begin("cut+gateway-kill")
    if lab.netns:
        lab.netns.down()
    else:
        lab.proxy.blackhole()
    time.sleep(rng.uniform(0.5, 2.0))
    lab.gateway.kill9()
    lab.gateway.start()
    time.sleep(hold)
    if lab.netns:
        lab.netns.up()
    else:
        lab.proxy.heal()
    lab.fault_end()
    lab.recover(record, what="after a restart while the network was cut")


FAULTS: dict[str, tuple[Fault, str | None]] = {
    "gateway-kill": (gateway_kill, None),
    "broker-kill": (broker_kill, None),
    "blackhole": (blackhole, None),
    "reset": (reset, None),
    "partition": (partition, "partition"),
    "disk-full": (disk_full, "disk-full"),
    "reload": (reload_valid, None),
    "reload-invalid": (reload_invalid, None),
    "replay-storm": (replay_storm, None),
    "storm+reload": (storm_reload, None),
    "broker+gateway-kill": (broker_and_gateway_kill, None),
    "cut+gateway-kill": (cut_and_gateway_kill, None),
}
"""Fault name -> (function, what it needs: None, "partition" (namespaces) or "disk-full" (tmpfs))."""


def clear_all(lab: Lab) -> None:
    """Undo any fault still in place: broker up, proxy forwarding, link up, disk large, valid config."""
    if lab.broker is not None and (lab.broker.process is None or lab.broker.process.poll() is not None):
        lab.broker.process = None
        lab.broker.start()
    if lab.proxy is not None and lab.proxy.blackholed:
        lab.proxy.heal()
    if lab.netns is not None:
        lab.netns.up()
    if lab.tmpfs is not None:
        lab.tmpfs.resize(lab.tmpfs.size_kb)
    if lab.config is not None:
        lab.write_config(lab.config)
    lab.fault_end()
