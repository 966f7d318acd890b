"""The helpers the daemon (gateway/app.py) calls to wire remote configuration in; no daemon import here."""

from __future__ import annotations

import logging
import time
from typing import Any

from gateway.config import Config
from gateway.remote.startup import StartChoice, choose_at_start, local_origin
from gateway.remote.store import ConfigStore, State
from gateway.remote.trial import Observation

log = logging.getLogger("storegw.remote")


def config_store(config: Config) -> ConfigStore:
    """The store of remote configs of ``config``'s data_dir."""
    return ConfigStore(config.gateway.data_dir, config.remote.keep_versions)


def start_choice(local: Config, local_path: str) -> StartChoice:
    """The config a start uses; on any unexpected error the local file (already checked), never no config."""
    try:
        return choose_at_start(local, local_path, config_store(local), time.time())
    except Exception:
        log.exception("config: choosing the stored remote config failed; using the local file %s", local_path)
        return StartChoice(local, local_origin(local_path), State())


def observation(link: Any, devices: dict[str, Any]) -> Observation:
    """What a trial judges: the broker link (an MqttLink or None) and each device's health (DeviceHealth)."""
    return Observation(link_up=bool(link is not None and link.connected),
                       link_error=link.stats.last_error if link is not None else "no broker link running",
                       devices={device_id: str(health.state) for device_id, health in devices.items()},
                       errors={device_id: health.last_error for device_id, health in devices.items()
                               if health.last_error})
