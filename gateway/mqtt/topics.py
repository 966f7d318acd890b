"""The topics of one gateway, all under `{topic_prefix}/{store_id}/{gateway_id}`."""

from __future__ import annotations

from gateway.config.model import Config


def gateway_topic(prefix: str, store_id: str, gateway_id: str) -> str:
    """`{prefix}/{store_id}/{gateway_id}`: the base under which one gateway publishes and listens."""
    return f"{prefix.rstrip('/')}/{store_id}/{gateway_id}"


def base_topic(config: Config) -> str:
    """`{topic_prefix}/{store_id}/{gateway_id}` of a config."""
    return gateway_topic(config.mqtt.topic_prefix, config.gateway.store_id, config.gateway.gateway_id)


def event_topic(base: str, name: str) -> str:
    """Where events of type ``name`` (and the outbox's own notices) are published."""
    return f"{base}/{name}"


def state_topic(base: str) -> str:
    """The retained birth, offline state and will."""
    return f"{base}/state"


def device_state_topic(base: str, device_id: str) -> str:
    """The retained state of one device (connected, reconnecting, failed, stopped)."""
    return f"{base}/devices/{device_id}/state"


def command_topic(base: str, name: str) -> str:
    """Where the backend sends the command ``name``."""
    return f"{base}/cmd/{name}"


def command_filter(base: str) -> str:
    """The subscription that takes every command."""
    return command_topic(base, "+")


def answer_topic(base: str, name: str) -> str:
    """Where the answer to the command ``name`` is published."""
    return f"{base}/cmd-res/{name}"
