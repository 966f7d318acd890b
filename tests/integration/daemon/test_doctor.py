"""`storegw doctor`: one line per check, non-zero exit on a failure, each failure saying what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.broker import Mosquitto, free_port
from tests.support.certs import make_ca, make_leaf
from tests.support.peers import ROOT, write_config


def doctor(config: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "doctor", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_healthy_setup_passes_every_check(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """With a broker and a synthetic device every check passes, in the technician's order."""
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\n')
    result = doctor(config)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    names = [line.split("]", 1)[1].split(":", 1)[0].strip() for line in lines]
    assert names[:5] == ["config", "disk", "clock", "broker tcp", "broker mqtt"]
    assert "device load (synthetic)" in names
    assert all(line.startswith(("[  ok]", "[warn]")) for line in lines)


def test_unreachable_broker_and_missing_serial_port_fail_with_advice(tmp_path: Path) -> None:
    """A broker nobody runs and a serial port that is not there each fail with what to do."""
    config = write_config(tmp_path / "c.toml", port=free_port(), data_dir=tmp_path / "data",
                          devices='[[devices]]\nid = "door"\nkind = "serial_counter"\nport = "/dev/ttyNOPE9"\n')
    result = doctor(config)
    assert result.returncode == 1
    assert "[FAIL] broker tcp:" in result.stdout and "check mqtt.url" in result.stdout
    assert "[FAIL] device door (serial_counter): /dev/ttyNOPE9 does not exist" in result.stdout


def test_untrusted_broker_certificate_is_explained(tmp_path: Path) -> None:
    """A broker certificate from another CA fails the TLS check and names ca_file; the right CA passes."""
    ca, ca_key, ca_cert = make_ca(tmp_path, "broker-ca")
    other, _, _ = make_ca(tmp_path, "other-ca")
    cert, key = make_leaf(tmp_path, "broker", ca_key, ca_cert, server=True)
    broker = Mosquitto(tls={"ca": str(ca), "cert": str(cert), "key": str(key)}).start()
    try:
        bad = write_config(tmp_path / "bad.toml", port=broker.port, data_dir=tmp_path / "data", url=broker.url,
                           mqtt_extra=f'ca_file = "{other}"')
        result = doctor(bad)
        assert result.returncode == 1
        assert "[FAIL] broker tls: certificate not trusted" in result.stdout and "ca_file" in result.stdout
        good = write_config(tmp_path / "good.toml", port=broker.port, data_dir=tmp_path / "data", url=broker.url,
                            mqtt_extra=f'ca_file = "{ca}"')
        result = doctor(good)
        assert result.returncode == 0, result.stdout
        assert "[  ok] broker tls: certificate verified" in result.stdout
    finally:
        broker.stop()


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    """An invalid config is reported as the config check and exits 2."""
    config = tmp_path / "c.toml"
    config.write_text('[gateway]\nstore_id = "s"\n')
    result = doctor(config)
    assert result.returncode == 2
    assert "[FAIL] config:" in result.stdout and "gateway_id: required key is missing" in result.stdout
