"""`storegw doctor`: one line per check, each failure saying what to do."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from gateway.check import FAIL, OK, WARN, Check
from gateway.config import Config
from gateway.config.redact import redact_url
from gateway.devices import has_part, load_part
from gateway.devices.base_config import DeviceConfig
from gateway.devices.extras import missing_extra_sentence


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
    """Every broker of the list: TCP, TLS with verification, an MQTT CONNECT with our credentials.

    With a failover list, a broker that fails while another passes is a WARN (the gateway works,
    on another broker); only when every one fails are the failures FAIL. The lines name the broker.
    """
    from gateway.mqtt.settings import parse_url

    urls = config.mqtt.broker_urls()
    if len(urls) == 1:
        return _check_one_broker(config, config_path, *parse_url(urls[0]))
    per_broker: list[list[Check]] = []
    for url in urls:
        host, port, tls = parse_url(url)
        checks = _check_one_broker(config, config_path, host, port, tls)
        for check in checks:
            if f"{host}:{port}" not in check.detail:
                check.detail = f"{host}:{port}: {check.detail}"
        per_broker.append(checks)
        if any(check.name == "broker credentials" for check in checks):
            break  # the same secret files for every broker: saying it once is enough
    if any(all(check.status != FAIL for check in checks) for checks in per_broker):
        for checks in per_broker:
            for check in checks:
                if check.status == FAIL and check.name != "broker credentials":
                    check.status = WARN
                    check.detail += " (another broker of mqtt.urls answers: the gateway fails over to it)"
    return [check for checks in per_broker for check in checks]


def _check_one_broker(config: Config, config_path: str, host: str, port: int, tls: bool) -> list[Check]:
    """TCP reachability, TLS handshake with verification, and an MQTT CONNECT with our credentials."""
    from gateway.mqtt.settings import link_settings

    setting = "mqtt.urls" if config.mqtt.urls else "mqtt.url"
    checks = []
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
        checks.append(Check("broker tcp", OK, f"{host}:{port} reachable"))
    except OSError as exc:
        checks.append(Check("broker tcp", FAIL, f"{host}:{port} unreachable ({exc.strerror or exc}); check {setting}, "
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


def check_device(device: DeviceConfig) -> Check:
    """What every device gets (disabled? extra installed?), then the check its kind's folder declares."""
    name = f"device {device.id} ({device.kind})"
    if not device.enabled:
        return Check(name, OK, "disabled")
    lacking = missing_extra_sentence(device.id, device.kind)
    if lacking is not None:
        return Check(name, FAIL, lacking)
    if not has_part(device.kind, "doctor"):
        return Check(name, OK, "nothing to check")
    kind_check: Check = load_part(device.kind, "doctor").check(device, name)
    return kind_check


def run_checks(config: Config, config_path: str) -> Iterator[Check]:
    """Every check, in the order a technician would go through them."""
    yield Check("config", OK, f"{config_path} valid ({len(config.devices)} devices)")
    yield check_disk(config)
    yield check_clock()
    yield from check_broker(config, config_path)
    for device in config.devices:
        yield check_device(device)


def print_checks(checks: Iterator[Check], out: Callable[[str], None]) -> int:
    """Print each check as it completes; exit 1 if any failed."""
    failed = 0
    for check in checks:
        out(redact_url(check.line()))  # a device's error may quote a URL with its password
        failed += check.status == FAIL
    return 1 if failed else 0
