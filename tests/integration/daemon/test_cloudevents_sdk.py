"""What a backend sees: every published event read with the CloudEvents Python SDK, over MQTT 5.

The real daemon publishes to a real mosquitto; an MQTT 5 subscriber keeps each message's content
type property, and the official SDK (`cloudevents`, its JSON event format and v1.0 event class)
parses every event, so the envelope is checked by the reader the backend uses, not only by our schemas.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from referencing import Registry, Resource

from gateway.mqtt.link import CLOUDEVENTS_JSON, event_properties
from tests.support.broker import Mosquitto
from tests.support.peers import SCHEMAS, Daemon, Subscriber, validate_event, wait_for, write_config

LOAD = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 200\n'
SOURCE = "/stores/store-t/gateways/gw-t"
ATTRIBUTES = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "sequence", "gwboot"}
"""Every attribute the contract names; the SDK would show any other one as an extension."""


class ContentTypeSubscriber(Subscriber):
    """A Subscriber that also keeps the MQTT 5 content type property of every message."""

    def __init__(self, port: int, topic: str) -> None:
        """Subscribe to ``topic`` on the broker at ``port`` (MQTT 5)."""
        self.content_types: list[tuple[str, str | None]] = []
        super().__init__(port, topic)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Collect topic, payload, retain flag and content type (runs on paho's thread)."""
        with self.lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self.content_types.append((message.topic, getattr(message.properties, "ContentType", None)))

    def received(self) -> list[tuple[str, bytes, bool, str | None]]:
        """Every message so far as (topic, payload, retained, content type)."""
        with self.lock:
            return [(topic, payload, retain, ctype)
                    for (topic, payload, retain), (_, ctype) in zip(self.messages, self.content_types, strict=True)]


def data_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator of the `data` of event type ``name``: `#/properties/data` of its docs/schemas file."""
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    registry: Registry[Any] = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return jsonschema.Draft202012Validator({"$ref": f"{schema['$id']}#/properties/data"}, registry=registry,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def is_event_topic(topic: str) -> bool:
    """True for `{prefix}/{store}/{gw}/{event}` (not the state, not a command or its answer)."""
    return not topic.endswith("/state") and "/cmd" not in topic


def test_event_properties_are_built_once_for_mqtt5_and_absent_on_311() -> None:
    """MQTT 5 gets the CloudEvents content type, packed as paho would; MQTT 3.1.1 gets no properties."""
    assert event_properties("3.1.1") is None, "MQTT 3.1.1 has no properties"
    props = event_properties("5")
    assert props is not None and props.ContentType == CLOUDEVENTS_JSON == "application/cloudevents+json"
    plain = Properties(PacketTypes.PUBLISH)
    plain.ContentType = CLOUDEVENTS_JSON
    assert props.pack() == plain.pack(), "the packed-once properties must be what paho would pack"


def test_every_published_event_parses_with_the_cloudevents_sdk_and_carries_its_content_type(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """The daemon's events, read by the CloudEvents SDK, meet the contract and carry their MQTT 5 content type."""
    sub = ContentTypeSubscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=LOAD,
                          health_interval_s=1)
    started = dt.datetime.now(dt.UTC)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len(sub.events()) > 200 and any(e["type"] == "storegw.health.v1" for e in sub.events()),
                 what="synthetic and health events")
    finally:
        assert daemon.terminate() == 0, daemon.log()
    wait_for(lambda: any(json.loads(p).get("reason") == "shutdown" for p in sub.on_topic("/state")),
             what="the offline state of the graceful stop")
    ended = dt.datetime.now(dt.UTC)
    sub.close()

    messages = sub.received()
    events = [(topic, payload, ctype) for topic, payload, retain, ctype in messages if is_event_topic(topic)]
    assert len(events) > 200
    wrong = sorted({(topic, ctype) for topic, _, ctype in events if ctype != CLOUDEVENTS_JSON})
    assert not wrong, f"event messages without content type {CLOUDEVENTS_JSON}: {wrong[:5]}"

    json_format = JSONFormat()
    validators: dict[str, jsonschema.Draft202012Validator] = {}
    ids: set[str] = set()
    for topic, payload, _ in events:
        name = topic.rsplit("/", 1)[-1]
        event = json_format.read(CloudEvent, payload)  # the v1.0 class validates the attributes itself
        assert event.get_specversion() == "1.0"
        assert uuid.UUID(event.get_id()).version == 7 and event.get_id() not in ids
        ids.add(event.get_id())
        assert event.get_source() == SOURCE
        assert event.get_type() == f"storegw.{name}.v1"
        assert event.get_subject() == ("gw-t" if name == "health" else "load")
        when = event.get_time()
        assert when is not None and when.utcoffset() == dt.timedelta(0)
        assert started - dt.timedelta(minutes=1) <= when <= ended + dt.timedelta(minutes=1), f"implausible time {when}"
        assert event.get_datacontenttype() == "application/json"
        assert set(event.get_attributes()) == ATTRIBUTES, f"unexpected attributes in {topic}"
        assert re.fullmatch(r"[0-9]{20}", event.get_extension("sequence"))
        assert event.get_extension("gwboot") == 1
        if name not in validators:
            validators[name] = data_validator(name)
        validators[name].validate(event.get_data())
        validate_event(json.loads(json_format.write(event)))  # what the SDK writes back still meets the schema
    assert set(validators) == {"synthetic", "health"}
    assert not validators["synthetic"].is_valid({"n": "not a number"}), "the data schema must be able to fail"
    sequences = sorted(int(json.loads(payload)["sequence"]) for _, payload, _ in events)
    assert sequences == list(range(1, sequences[-1] + 1))

    states = [ctype for topic, _, _, ctype in messages if topic.endswith("/state")]
    assert len(states) >= 2 and all(ctype is None for ctype in states), \
        "the retained state (birth, offline) is plain JSON without a content type property"


@pytest.mark.parametrize("payload", [b"{}", b'{"specversion": "0.3", "id": "x", "source": "/s", "type": "t"}',
                                     b'{"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "seq-no": 1}'])
def test_the_sdk_rejects_what_is_not_a_cloudevent_1_0(payload: bytes) -> None:
    """The SDK reader used above does fail on what is not a valid CloudEvents 1.0 event."""
    with pytest.raises(CloudEventValidationError):
        JSONFormat().read(CloudEvent, payload)
