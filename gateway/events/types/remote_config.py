"""Payload of the outcome of a remote config change (`cmd/config-apply`), one event per trial."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class ConfigData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How a config sent with cmd/config-apply ended: committed, or rolled back by the gateway itself.

    Published through the outbox like every event, so it arrives even when the config being tried cut
    the gateway off its broker (the rollback restores the old link first). `active_version` is the
    config in force after this outcome (null: the local file).
    """

    version: Annotated[str, msgspec.Meta(description="the version the backend gave in cmd/config-apply")]
    state: Annotated[Literal["committed", "rolled_back"], msgspec.Meta(
        description="committed: the trial passed and this config stays, across restarts too; rolled_back: the "
        "gateway went back to the last committed config")]
    reason: Annotated[str, msgspec.Meta(description="one sentence: why it committed or rolled back")]
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$",
                                        description="sha256 of the config as stored on the gateway (TOML)")]
    previous_version: Annotated[str | None, msgspec.Meta(
        description="the config in force before the trial (null: the local file)")] = None
    active_version: Annotated[str | None, msgspec.Meta(
        description="the config in force after this outcome (null: the local file)")] = None
    request_id: Annotated[str | None, msgspec.Meta(
        description="request_id of the cmd/config-apply that started the trial, when it had one")] = None
    trial_s: Annotated[Annotated[float, msgspec.Meta(ge=0)] | None, msgspec.Meta(
        description="seconds from the apply to this outcome (null: cut by a restart, or no trial ran)")] = None
