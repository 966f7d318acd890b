"""Config of the synthetic load device."""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.base_config import DeviceConfig


class SyntheticConfig(DeviceConfig, tag="synthetic"):
    """Emits `rate` synthetic events per second, for load tests and benchmarks."""

    rate: Annotated[float, msgspec.Meta(gt=0, le=100_000, description="events per second")] = 10.0
    payload_bytes: Annotated[int, msgspec.Meta(ge=0, le=100_000, description="filler size per event")] = 64
