"""Where a config puts its files: the outbox database and the local status socket."""

from __future__ import annotations

import os

from gateway.config.model import Config


def outbox_path(config: Config) -> str:
    """Where the outbox database of a config lives."""
    return os.path.join(config.gateway.data_dir, "outbox.db")


def socket_path(config: Config) -> str:
    """Where the local status socket of a config lives."""
    return config.diag.socket or os.path.join(config.gateway.data_dir, "storegw.sock")
