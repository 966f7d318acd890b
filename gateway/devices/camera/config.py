"""Config of cameras (refined by the vision issue)."""

from __future__ import annotations

from gateway.devices.base_config import DeviceConfig


class CameraConfig(DeviceConfig, tag="camera"):
    """A camera: USB index, RTSP/HTTP URL or a video file."""

    source: str
