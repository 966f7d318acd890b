"""Device integrations: one folder per kind, each applying policy on top of its driver.

Each folder has a light ``config.py`` (imported whenever a config is read), a ``needs.py``
declaring the optional extra the kind needs (see ``gateway.devices.extras``) and a
``runner.py`` with ``async def run_device(cfg, ctx)``, imported only when such a device runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.devices.ble.config import BLEConfig
from gateway.devices.camera.config import CameraConfig
from gateway.devices.llrp.config import LLRPConfig
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.synthetic.config import SyntheticConfig

DEVICE_CONFIGS = (SerialCounterConfig, SyntheticConfig, LLRPConfig, BLEConfig, CameraConfig)
AnyDeviceConfig = SerialCounterConfig | SyntheticConfig | LLRPConfig | BLEConfig | CameraConfig


def load_runner(kind: str) -> Callable[[Any, Any], Awaitable[None]]:
    """Import the integration of ``kind`` and return its ``run_device`` coroutine function."""
    module = importlib.import_module(f"gateway.devices.{kind}.runner")
    return module.run_device
