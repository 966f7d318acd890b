"""The published contract: committed schemas match the payload classes; AsyncAPI lists every topic."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gateway.events.schemas import event_schema
from gateway.events.types import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[1]


def test_every_event_type_has_its_committed_schema_up_to_date() -> None:
    for name in EVENT_TYPES:
        path = ROOT / "docs" / "schemas" / f"{name}.json"
        assert path.exists(), f"missing {path}: run python -m gateway.events.schemas"
        assert json.loads(path.read_text()) == event_schema(name), f"{path} is stale: python -m gateway.events.schemas"


def test_asyncapi_document_covers_every_topic_with_qos_and_retain() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    addresses = {channel["address"].rsplit("/", 1)[-1] for channel in doc["channels"].values()}
    assert set(EVENT_TYPES) | {"state", "replay", "rebirth", "config"} <= addresses
    for name in EVENT_TYPES:
        channel = doc["channels"][name.replace("-", "_")]
        payload = next(iter(channel["messages"].values()))["payload"]["$ref"]
        assert (ROOT / "docs" / payload.removeprefix("./")).exists()
        assert doc["operations"][f"publish_{name.replace('-', '_')}"]["bindings"]["mqtt"] == {"qos": 1, "retain": False}
    assert doc["operations"]["publish_state"]["bindings"]["mqtt"]["retain"] is True


def test_uuid7_ids_are_unique_ordered_and_carry_the_time() -> None:
    import time

    from gateway.events.uuid7 import uuid7

    now_ns = time.time_ns()
    ids = [uuid7(now_ns) for _ in range(5000)]  # same millisecond: the counter must keep order
    assert len(set(ids)) == 5000 and ids == sorted(ids)
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids[:10])
    assert (ids[0].int >> 80) == now_ns // 1_000_000
    assert (ids[-1].int >> 80) - now_ns // 1_000_000 <= 2, "timestamps must not run ahead of the clock"
