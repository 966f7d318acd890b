"""`storegw doctor`: one line per check, each failure saying what to do."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.config import Config
from gateway.config.redact import redact_url
from gateway.devices.extras import missing_extra_sentence

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    """The result of one check."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """One line for the terminal."""
        return f"[{self.status:>4}] {self.name}: {self.detail}"


def check_disk(config: Config) -> Check:
    """data_dir exists, is writable and has room for the outbox quota."""
    path = config.gateway.data_dir
    try:
        os.makedirs(path, mode=0o750, exist_ok=True)
    except OSError as exc:
        return Check("disk", FAIL, f"cannot create {path} ({exc.strerror}); create it and give it to the storegw user")
    if not os.access(path, os.W_OK):
        return Check("disk", FAIL, f"{path} is not writable; chown it to the storegw user")
    usage = shutil.disk_usage(path)
    free_mb = usage.free / 1e6
    if usage.free < 50e6:
        return Check("disk", FAIL, f"only {free_mb:.0f} MB free under {path}; free space or lower outbox.max_bytes")
    if usage.free < config.outbox.max_bytes:
        return Check("disk", WARN, f"{free_mb:.0f} MB free under {path}, less than outbox.max_bytes "
                     f"({config.outbox.max_bytes / 1e6:.0f} MB); lower the quota or free space")
    return Check("disk", OK, f"{path} writable, {free_mb:.0f} MB free")


def check_clock() -> Check:
    """The system clock is plausible and, where timedatectl can tell, synchronised."""
    year = time.gmtime().tm_year
    if year < 2024:
        return Check("clock", FAIL, f"system time is in {year}; enable NTP (timedatectl set-ntp true)")
    synced = None
    try:
        import subprocess

        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                             text=True, timeout=3)
        if out.returncode == 0 and out.stdout.strip() in ("yes", "no"):
            synced = out.stdout.strip() == "yes"
    except (OSError, subprocess.SubprocessError):
        pass
    if synced is False:
        return Check("clock", WARN, "time is not NTP-synchronised; event times may drift (timedatectl set-ntp true)")
    return Check("clock", OK, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                 + (" (NTP synchronised)" if synced else ""))


def check_broker(config: Config, config_path: str) -> list[Check]:
    """TCP reachability, TLS handshake with verification, and an MQTT CONNECT with our credentials."""
    from gateway.app import link_settings
    from gateway.mqtt.link import parse_url

    host, port, tls = parse_url(config.mqtt.url)
    checks = []
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
        checks.append(Check("broker tcp", OK, f"{host}:{port} reachable"))
    except OSError as exc:
        checks.append(Check("broker tcp", FAIL, f"{host}:{port} unreachable ({exc.strerror or exc}); check mqtt.url, "
                            "the network and the broker"))
        return checks
    try:
        settings = link_settings(config, config_path, 0)
    except OSError as exc:
        checks.append(Check("broker credentials", FAIL, f"cannot read a secret file ({exc.strerror}); check its "
                            "path and permissions"))
        return checks
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    done = threading.Event()
    result: dict[str, Any] = {}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id + "-doctor",
                         protocol=MQTTProtocolVersion.MQTTv5 if settings.protocol == "5" else
                         MQTTProtocolVersion.MQTTv311)
    if tls:
        context = ssl.create_default_context(cafile=settings.ca_file)
        context.check_hostname = not settings.tls_insecure
        if settings.cert_file:
            context.load_cert_chain(settings.cert_file, settings.key_file, password=settings.key_password or "")
        client.tls_set_context(context)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)

    def on_connect(c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        """Remember the CONNACK reason (paho's thread)."""
        result["reason"] = reason
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, 10)
        if tls:
            checks.append(Check("broker tls", OK, "certificate verified" + (" (client certificate sent)"
                                                                            if settings.cert_file else "")))
        client.loop_start()
        done.wait(10)
        client.disconnect()
        client.loop_stop()
    except ssl.SSLCertVerificationError as exc:
        checks.append(Check("broker tls", FAIL, f"certificate not trusted ({exc.verify_message}); set mqtt.ca_file "
                            "to the CA that signed the broker's certificate"))
        return checks
    except (ssl.SSLError, OSError) as exc:
        checks.append(Check("broker tls" if tls else "broker mqtt", FAIL, f"{exc}; check the TLS files and url"))
        return checks
    reason = result.get("reason")
    if reason is None:
        checks.append(Check("broker mqtt", FAIL, "no CONNACK within 10 s; is this an MQTT port?"))
    elif getattr(reason, "is_failure", False):
        checks.append(Check("broker mqtt", FAIL, f"connection refused: {reason}; check username, password_file, ACLs"))
    else:
        checks.append(Check("broker mqtt", OK, f"MQTT {settings.protocol} session accepted"))
    return checks


def _device_check(device: Any) -> Check:
    """A quick reachability check of one device by kind."""
    kind = type(device).__struct_config__.tag
    name = f"device {device.id} ({kind})"
    if not device.enabled:
        return Check(name, OK, "disabled")
    lacking = missing_extra_sentence(device.id, kind)
    if lacking is not None:
        return Check(name, FAIL, lacking)
    if kind == "serial_counter":
        port = device.port
        if "://" in port:
            return Check(name, OK, f"{port} (URL; opened by the daemon)")
        if not os.path.exists(port):
            return Check(name, FAIL, f"{port} does not exist; plug the counter in or fix `port` (ls /dev/serial/by-id)")
        if not os.access(port, os.R_OK | os.W_OK):
            return Check(name, FAIL, f"no access to {port}; add the storegw user to the dialout group")
        return Check(name, OK, f"{port} present and accessible")
    if kind == "llrp":
        try:
            with socket.create_connection((device.host, device.port), timeout=5):
                return Check(name, OK, f"{device.host}:{device.port} accepts connections")
        except OSError as exc:
            return Check(name, FAIL, f"{device.host}:{device.port} unreachable ({exc.strerror or exc}); check the "
                         "reader's power, network and that no other client holds it")
    if kind == "ble":
        if getattr(device, "replay", ""):
            return Check(name, OK, "replaying a recording")
        adapter = getattr(device, "adapter", "hci0")
        if not os.path.exists(f"/sys/class/bluetooth/{adapter}"):
            return Check(name, FAIL, f"no Bluetooth adapter {adapter}; check `bluetoothctl list` and the adapter key")
        return Check(name, OK, f"adapter {adapter} present")
    if kind == "camera":
        return _camera_check(name, device)
    return Check(name, OK, "nothing to check")


def _camera_check(name: str, device: Any) -> Check:
    """Camera models verified and the source openable."""
    try:
        from gateway.vision.models import verify_all  # type: ignore[attr-defined]

        verify_all()
    except ImportError as exc:
        return Check(name, FAIL, f"vision support not installed ({exc.name}); pip install 'storegw[vision]'")
    except Exception as exc:
        return Check(name, FAIL, f"{exc}")
    source = str(device.source)
    if "://" not in source and not source.isdigit() and not os.path.exists(source):
        return Check(name, FAIL, f"video file {source} not found")
    return Check(name, OK, f"models verified; source {redact_url(source)}")


def run_checks(config: Config, config_path: str) -> Iterator[Check]:
    """Every check, in the order a technician would go through them."""
    yield Check("config", OK, f"{config_path} valid ({len(config.devices)} devices)")
    yield check_disk(config)
    yield check_clock()
    yield from check_broker(config, config_path)
    for device in config.devices:
        yield _device_check(device)


def print_checks(checks: Iterator[Check], out: Callable[[str], None]) -> int:
    """Print each check as it completes; exit 1 if any failed."""
    failed = 0
    for check in checks:
        out(redact_url(check.line()))  # a device's error may quote a URL with its password
        failed += check.status == FAIL
    return 1 if failed else 0
