"""`storegw doctor` for a camera: its models verify and its source can be opened."""

from __future__ import annotations

import os

from gateway.check import FAIL, OK, Check
from gateway.config.redact import redact_url
from gateway.devices.camera.config import CameraConfig


def check(device: CameraConfig, name: str) -> Check:
    """Camera models verified and the source openable."""
    try:
        from gateway.vision.models import verify_all

        verify_all()
    except ImportError as exc:
        return Check(name, FAIL, f"vision support not installed ({exc.name}); pip install 'storegw[vision]'")
    except Exception as exc:
        return Check(name, FAIL, f"{exc}")
    source = str(device.source)
    if "://" not in source and not source.isdigit() and not os.path.exists(source):
        return Check(name, FAIL, f"video file {source} not found")
    return Check(name, OK, f"models verified; source {redact_url(source)}")
