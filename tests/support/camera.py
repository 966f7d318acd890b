"""A one-camera config on the shared evaluation clip (read in place, never copied) for the camera CLI verbs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT

CAMPUS_CLIP = REPO_ROOT.parent / "shared" / "benchmarks" / "footfall" / "TUD-Campus" / "TUD-Campus.mp4"


def door_camera_config(folder: Path, clip: Path = CAMPUS_CLIP) -> Path:
    """Write a config whose camera `door-cam` reads ``clip`` with a vertical door line; its path."""
    config = folder / "c.toml"
    config.write_text(f'''[gateway]
store_id = "s"
gateway_id = "g"
data_dir = "{folder / 'data'}"
[mqtt]
url = "mqtt://127.0.0.1:1"
[[devices]]
id = "door-cam"
kind = "camera"
source = "{clip}"
lines = [{{name = "door", x1 = 320, y1 = 0, x2 = 320, y2 = 480, inside = [600, 240]}}]
''')
    return config


def camera_verb(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `storegw camera ARGS` against ``door_camera_config(folder)``."""
    config = door_camera_config(folder)
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "camera", *args, "--config", str(config)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=timeout)
