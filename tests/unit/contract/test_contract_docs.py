"""The published contract: committed schemas match the payload classes and are valid JSON Schema 2020-12;
AsyncAPI lists every topic and passes the official AsyncAPI parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from gateway.events.schemas import event_schema
from gateway.events.types import EVENT_TYPES
from gateway.mqtt.link import CLOUDEVENTS_JSON
from gateway.mqtt.state import state_payload
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
ASYNCAPI_TOOL = ROOT / "tools" / "asyncapi"
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = [*sorted((ROOT / "docs" / "schemas").glob("*.json")), ROOT / "config" / "schema.json"]


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
        message = next(iter(channel["messages"].values()))
        assert (ROOT / "docs" / message["payload"]["$ref"].removeprefix("./")).exists()
        assert {"$ref": "#/components/messageTraits/cloudevent"} in message["traits"], f"{name}: not a CloudEvent"
        assert doc["operations"][f"publish_{name.replace('-', '_')}"]["bindings"]["mqtt"] == {"qos": 1, "retain": False}
    assert doc["operations"]["publish_state"]["bindings"]["mqtt"]["retain"] is True
    trait = doc["components"]["messageTraits"]["cloudevent"]
    assert trait["contentType"] == trait["bindings"]["mqtt"]["contentType"] == CLOUDEVENTS_JSON


def test_asyncapi_document_passes_the_official_parser() -> None:
    """The official AsyncAPI parser (pinned in tools/asyncapi) finds no error in docs/asyncapi.yaml."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the official AsyncAPI parser (tools/asyncapi) runs on Node.js")
    pinned = json.loads((ASYNCAPI_TOOL / "package.json").read_text())["dependencies"]["@asyncapi/parser"]
    installed = ASYNCAPI_TOOL / "node_modules" / "@asyncapi" / "parser" / "package.json"
    assert installed.exists(), "the AsyncAPI parser is not installed: run npm ci --prefix tools/asyncapi"
    assert json.loads(installed.read_text())["version"] == pinned, \
        f"tools/asyncapi/node_modules is not the locked parser {pinned}: run npm ci --prefix tools/asyncapi"
    done = subprocess.run([node, "tools/asyncapi/validate.mjs", "docs/asyncapi.yaml"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), f"validate.mjs could not run (exit {done.returncode}): {done.stderr.strip()}"
    report = json.loads(done.stdout)
    assert report["parser"] == pinned
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert not errors, "docs/asyncapi.yaml fails the AsyncAPI parser:\n" + "\n".join(
        f"  {d['path'] or '(document)'}: {d['message']} [{d['code']}]" for d in errors)
    assert done.returncode == 0 and report["valid"] is True, done.stdout


def test_state_payloads_match_the_asyncapi_state_message() -> None:
    """Birth, will and stop payloads, `commit` included, satisfy the documented state payload."""
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    schema = doc["components"]["messages"]["state"]["payload"]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    commit = "33b858ad1ea3ba8259319a8411a045428afe74f2"
    payloads = [state_payload(True, 3, "0.2.0", commit),  # birth
                state_payload(False, 3, "0.2.0", f"{commit}-dirty", "connection lost", stamped=False),  # will
                state_payload(False, 3, "0.2.0", "unknown", "shutdown")]  # graceful stop
    for payload in payloads:
        validator.validate(json.loads(payload))
    assert "commit" in schema["required"]
    birth = json.loads(payloads[0])
    assert not validator.is_valid({**birth, "commit": "33b858a"}), "an abbreviated hash is not a commit"
    assert not validator.is_valid({key: value for key, value in birth.items() if key != "commit"})


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_committed_schemas_are_valid_json_schema_2020_12(path: Path) -> None:
    """Each committed schema declares 2020-12, passes its meta-schema and has no dangling $ref."""
    schema = json.loads(path.read_text())
    assert schema.get("$schema") == JSON_SCHEMA_2020_12, f"{path} must declare $schema {JSON_SCHEMA_2020_12}"
    jsonschema.Draft202012Validator.check_schema(schema)
    resource: Resource[Any] = Resource.from_contents(schema)
    resolver = Registry().with_resource(schema["$id"], resource).resolver(base_uri=schema["$id"])
    dangling = []
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            dangling.append(ref)
    assert not dangling, f"{path}: $ref that resolve to nothing: {dangling}"


def test_every_schema_file_is_checked_against_the_meta_schema() -> None:
    """The meta-schema test covers every event type's schema and the config schema."""
    names = {path.stem for path in SCHEMA_FILES if path.parent.name == "schemas"}
    assert names == set(EVENT_TYPES) and (ROOT / "config" / "schema.json") in SCHEMA_FILES


def _refs(node: Any) -> list[str]:
    """Every $ref value anywhere in a JSON document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_uuid7_ids_are_unique_ordered_and_carry_the_time() -> None:
    import time

    from gateway.events.uuid7 import uuid7

    now_ns = time.time_ns()
    ids = [uuid7(now_ns) for _ in range(5000)]  # same millisecond: the counter must keep order
    assert len(set(ids)) == 5000 and ids == sorted(ids)
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids[:10])
    assert (ids[0].int >> 80) == now_ns // 1_000_000
    assert (ids[-1].int >> 80) - now_ns // 1_000_000 <= 2, "timestamps must not run ahead of the clock"
