"""Device integrations: one folder per kind, each applying policy on top of its driver.

A kind is the folder ``gateway/devices/<kind>/`` (docs/adding-a-device.md says what goes in it):
``config.py`` (its ``[[devices]]`` entry, light: imported whenever a config is read), ``needs.py``
(the optional extra it needs, see ``gateway.devices.extras``), ``runner.py`` (``async def
run_device(cfg, ctx)``, imported only when such a device runs) and, when its ``__init__.py`` lists
them in ``OPTIONAL_PARTS``, ``doctor.py`` (its `storegw doctor` check) and ``demo.py`` (its part of
`storegw demo`).

``AnyDeviceConfig`` is the one list of kinds: everything else here derives from it.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any, Literal

from gateway.devices.base_config import DeviceConfig, kind_of
from gateway.devices.ble.config import BLEConfig
from gateway.devices.camera.config import CameraConfig
from gateway.devices.llrp.config import LLRPConfig
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.synthetic.config import SyntheticConfig

# The registry: one member per kind, in the order the demo starts them.
AnyDeviceConfig = SerialCounterConfig | SyntheticConfig | LLRPConfig | BLEConfig | CameraConfig

CONFIG_CLASSES: tuple[type[DeviceConfig], ...] = typing.get_args(AnyDeviceConfig)
KINDS: tuple[str, ...] = tuple(kind_of(cls) for cls in CONFIG_CLASSES)
_CLASS_OF_KIND: dict[str, type[DeviceConfig]] = dict(zip(KINDS, CONFIG_CLASSES, strict=True))

OptionalPart = Literal["doctor", "demo"]


def config_class(kind: str) -> type[DeviceConfig]:
    """The config class registered for ``kind``; ValueError naming the known kinds for any other."""
    try:
        return _CLASS_OF_KIND[kind]
    except KeyError:
        raise ValueError(f"no device kind {kind!r}; known: {', '.join(KINDS)}") from None


def _kind_module(kind: str, part: str) -> ModuleType:
    """Import ``gateway.devices.<kind>.<part>`` of a registered kind."""
    config_class(kind)  # an unknown kind is a ValueError here, not a confusing ModuleNotFoundError
    return importlib.import_module(f"gateway.devices.{kind}.{part}")


def load_runner(kind: str) -> Callable[[Any, Any], Awaitable[None]]:
    """Import the integration of ``kind`` and return its ``run_device`` coroutine function."""
    run_device: Callable[[Any, Any], Awaitable[None]] = _kind_module(kind, "runner").run_device
    return run_device


def optional_parts(kind: str) -> tuple[OptionalPart, ...]:
    """The optional parts (doctor, demo) the folder of ``kind`` declares in its ``__init__.py``."""
    config_class(kind)
    declared: tuple[OptionalPart, ...] = importlib.import_module(f"gateway.devices.{kind}").OPTIONAL_PARTS
    return declared


def has_part(kind: str, part: OptionalPart) -> bool:
    """Whether ``kind`` has ``part``: decided by its declaration, never by trying an import."""
    return part in optional_parts(kind)


def load_part(kind: str, part: OptionalPart) -> ModuleType:
    """Import the ``part`` module of ``kind``; ValueError if the kind does not declare that part."""
    if not has_part(kind, part):
        raise ValueError(f"device kind {kind!r} has no {part} part (see OPTIONAL_PARTS in gateway/devices/{kind})")
    return _kind_module(kind, part)
