"""docs/adding-a-device.md, followed to the letter on a copy of the code: a new kind is its folder plus
the registry line, and config check, config schema, doctor and the daemon pick it up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.broker import free_port
from tests.support.paths import REPO_ROOT

REGISTRY_LINE = "AnyDeviceConfig = SerialCounterConfig | SyntheticConfig | LLRPConfig | BLEConfig | CameraConfig"
KIND_FILES = {
    "__init__.py": '''
        """A door contact sensor, for the test of adding a kind."""

        OPTIONAL_PARTS = ("doctor",)
        ''',
    "config.py": '''
        """Config of a door sensor."""

        from gateway.devices.base_config import DeviceConfig


        class DoorSensorConfig(DeviceConfig, tag="door_sensor"):
            """A door contact on a GPIO line."""

            line: int = 17
        ''',
    "needs.py": '''
        """Nothing beyond the base install."""

        from gateway.devices.extras import Needs

        NEEDS = Needs()
        ''',
    "runner.py": '''
        """Emits a synthetic event five times a second, enough to see the kind run."""

        import asyncio

        from gateway.events.types.synthetic import SyntheticData
        from gateway.pipelines import Event


        async def run_device(cfg, ctx):
            """Events until cancelled."""
            n = 0
            while True:
                ctx.emit(Event("synthetic", ctx.clock(), SyntheticData(n=n)))
                n += 1
                await asyncio.sleep(0.2)
        ''',
    "doctor.py": '''
        """`storegw doctor` for a door sensor."""

        from gateway.check import OK, Check


        def check(device, name):
            """The GPIO line is named."""
            return Check(name, OK, f"door contact on line {device.line}")
        ''',
}


def add_door_sensor(root: Path) -> None:
    """What the doc says: the kind's folder, its import and the registry line; nothing else."""
    folder = root / "gateway" / "devices" / "door_sensor"
    folder.mkdir()
    for name, text in KIND_FILES.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    registry = root / "gateway" / "devices" / "__init__.py"
    source = registry.read_text()
    assert REGISTRY_LINE in source, "the registry line moved: update this test and docs/adding-a-device.md"
    source = source.replace(REGISTRY_LINE, REGISTRY_LINE + " | DoorSensorConfig")
    source = source.replace("from gateway.devices.base_config import DeviceConfig, kind_of\n",
                            "from gateway.devices.base_config import DeviceConfig, kind_of\n"
                            "from gateway.devices.door_sensor.config import DoorSensorConfig\n")
    registry.write_text(source)


def storegw(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `storegw ARGS` from the copy of the code."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=root, timeout=timeout)


def test_a_new_kind_is_its_folder_and_the_registry_line(tmp_path: Path) -> None:
    """Following the doc on a copy: the kind validates, is in the schema, the doctor checks it, the daemon runs it."""
    root = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("gateway", "drivers"):
        shutil.copytree(REPO_ROOT / package, root / package, ignore=ignore)
    add_door_sensor(root)
    data_dir = tmp_path / "data"
    config = tmp_path / "c.toml"
    config.write_text(f"""
[gateway]
store_id = "s1"
gateway_id = "g1"
data_dir = "{data_dir}"

[mqtt]
url = "mqtt://127.0.0.1:{free_port()}"

[[devices]]
id = "back-door"
kind = "door_sensor"
line = 22
""")
    checked = storegw(root, "config", "check", str(config))
    assert checked.returncode == 0, checked.stderr
    unknown = tmp_path / "bad.toml"
    unknown.write_text(config.read_text().replace('kind = "door_sensor"', 'kind = "doorbell"'))
    refused = storegw(root, "config", "check", str(unknown))
    assert refused.returncode == 2 and "door_sensor" in refused.stderr + refused.stdout
    schema = storegw(root, "config", "schema")
    assert schema.returncode == 0 and '"door_sensor"' in schema.stdout
    doctor = storegw(root, "doctor", "--config", str(config))
    assert "device back-door (door_sensor): door contact on line 22" in doctor.stdout, doctor.stdout
    env = {**os.environ, "PYTHONPATH": str(root)}
    daemon = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "run", "--config", str(config)],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        last_seq = 0
        while time.monotonic() < deadline and last_seq < 3:
            time.sleep(0.3)
            stats = storegw(root, "outbox", "stats", "--config", str(config), "--json")
            if stats.returncode == 0:
                last_seq = int(json.loads(stats.stdout)["last_seq"])
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=30)
    assert last_seq >= 3, err
