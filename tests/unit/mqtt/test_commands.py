"""CommandHandler fed messages directly, with collaborators that record what it asks of the daemon."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import Config, parse_config
from gateway.events.types.synthetic import SyntheticData
from gateway.mqtt.commands import MAX_COMMANDS_WAITING, CommandHandler, CommandPorts
from gateway.mqtt.publisher import Publisher
from gateway.mqtt.replay import ReplayRequest
from gateway.outbox import Outbox, QuotaPolicy
from tests.support.waiting import until

BASE = "storegw/v1/store-t/gw-t"
CONFIG = """
[gateway]
store_id = "store-t"
gateway_id = "gw-t"
data_dir = "{data_dir}"

[mqtt]
url = "mqtt://127.0.0.1:1883"
username = "u"
password_file = "{password_file}"

[[devices]]
id = "door-cam"
kind = "camera"
source = "rtsp://admin:Sup3r-S3cret@10.0.0.5:554/stream1"
lines = [{{name = "door", x1 = 0, y1 = 100, x2 = 320, y2 = 100, inside = [160, 200]}}]
"""



class Wire:
    """Stands in for the broker link under a Publisher: records each message and acks it at once."""

    def __init__(self) -> None:
        """Nothing sent yet; ``publisher`` is set once the publisher exists."""
        self.mids = itertools.count(1)
        self.sequences: list[int] = []
        self.publisher: Publisher | None = None

    def publish(self, topic: str, payload: bytes) -> int:
        """Record an event or a replayed copy and schedule its PUBACK."""
        assert self.publisher is not None
        mid = next(self.mids)
        self.sequences.append(int(json.loads(payload)["sequence"]))
        asyncio.get_running_loop().call_soon(self.publisher.on_ack, mid, True)
        return mid


class RecordingDaemon:
    """The ports of a daemon, recording every call CommandHandler makes."""

    def __init__(self, config: Config, outbox: object = None, publisher: Publisher | None = None) -> None:
        """A daemon running ``config``, its ``outbox`` and ``publisher`` (for replays)."""
        self.config = config
        self.outbox = outbox
        self.publisher = publisher
        self.link_up = True
        self.waiting = 0
        self.births = 0
        self.answers: list[tuple[str, dict[str, Any], Any, bool]] = []

    def answer(self, topic: str, payload: bytes, properties: Any, busy: bool) -> bool:
        """Record an answer; False while there is no link."""
        if not self.link_up:
            return False
        self.answers.append((topic, json.loads(payload), properties, busy))
        return True

    def replay(self, from_seq: int, to_seq: int) -> ReplayRequest:
        """Queue the replay in the publisher."""
        assert self.publisher is not None
        return self.publisher.replay(from_seq, to_seq)

    def answers_waiting(self) -> int:
        """As many answers waiting as the test says."""
        return self.waiting

    def topic(self) -> str:
        """The base topic."""
        return BASE

    def rebirth(self) -> int:
        """Count a birth; boot 7."""
        self.births += 1
        return 7

    def running_config(self) -> Config:
        """The config in force."""
        return self.config

    def ports(self) -> CommandPorts:
        """The ports of this daemon."""
        return CommandPorts(outbox=self.outbox, replay=self.replay, answer=self.answer,
                            answers_waiting=self.answers_waiting, topic=self.topic, rebirth=self.rebirth,
                            running_config=self.running_config)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config with a password file and a camera URL carrying credentials."""
    (tmp_path / "pw").write_text("secret\n")
    text = CONFIG.format(data_dir=tmp_path / "data", password_file=tmp_path / "pw")
    return parse_config(text, str(tmp_path / "c.toml"))


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    """A real outbox holding 30 delivered events, its writer running."""
    box = Outbox(str(tmp_path / "o.db"), source="/stores/store-t/gateways/gw-t", quota=QuotaPolicy(), batch_max=100)
    await box.open()
    writer = asyncio.create_task(box.run())
    for n in range(30):
        box.submit("synthetic", "load", time.time(), SyntheticData(n=n), f"{BASE}/synthetic")
    assert await box.flush(30)
    for seq in range(1, 31):
        box.ack(seq)
    assert await box.flush(30)
    yield box
    writer.cancel()
    await asyncio.wait([writer], timeout=10)
    await box.close()


async def answered(daemon: RecordingDaemon, count: int = 1) -> list[tuple[str, dict[str, Any], Any, bool]]:
    """The answers, once ``count`` of them are recorded."""
    await until(lambda: len(daemon.answers) >= count, what=f"{count} answers")
    return daemon.answers


async def test_config_answers_with_the_running_config_and_hides_secrets(config: Config) -> None:
    """cmd/config answers the running config: secret file paths and URL credentials hidden."""
    daemon = RecordingDaemon(config)
    CommandHandler(daemon.ports()).on_message(f"{BASE}/cmd/config", b'{"request_id": "r1"}', None)
    [(topic, answer, properties, busy)] = await answered(daemon)
    assert topic == f"{BASE}/cmd-res/config" and properties is None and not busy
    assert answer["ok"] is True and answer["request_id"] == "r1"
    assert answer["config"]["mqtt"]["password_file"] == "(set)"
    assert answer["config"]["devices"][0]["source"] == "rtsp://***@10.0.0.5:554/stream1"
    assert "Sup3r-S3cret" not in json.dumps(answer)


async def test_rebirth_publishes_the_birth_again_and_answers_its_boot(config: Config) -> None:
    """cmd/rebirth asks the daemon for a birth and answers the boot it announced."""
    daemon = RecordingDaemon(config)
    CommandHandler(daemon.ports()).on_message(f"{BASE}/cmd/rebirth", b"", None)
    [(topic, answer, _, _)] = await answered(daemon)
    assert daemon.births == 1
    assert topic == f"{BASE}/cmd-res/rebirth" and answer == {"ok": True, "boot": 7}


async def test_replay_hands_the_range_to_the_publisher_and_answers_once_it_is_out(config: Config,
                                                                                  outbox: Outbox) -> None:
    """cmd/replay queues the range in the publisher; the answer comes once every copy is out."""
    wire = Wire()
    publisher = Publisher(outbox, wire.publish, 10)
    wire.publisher = publisher
    publisher.on_up()
    pump = asyncio.create_task(publisher.run())
    daemon = RecordingDaemon(config, outbox, publisher)
    try:
        CommandHandler(daemon.ports()).on_message(
            f"{BASE}/cmd/replay", json.dumps({"from_seq": 5, "to_seq": 40, "request_id": 9}).encode(), None)
        [(topic, answer, _, _)] = await answered(daemon)
    finally:
        pump.cancel()
        publisher.close()
    assert topic == f"{BASE}/cmd-res/replay"
    assert answer["ok"] is True and answer["request_id"] == 9 and answer["replayed"] == 26
    assert (answer["from_seq"], answer["to_seq"], answer["last_seq"]) == (5, 40, 30)
    assert wire.sequences == list(range(5, 31))  # the copies, in order, before the answer


async def test_bad_requests_get_an_error_answer_never_a_crash(config: Config) -> None:
    """Bad JSON, an unknown command, a reversed range, a non-object: each gets a sentence."""
    daemon = RecordingDaemon(config)
    handler = CommandHandler(daemon.ports())
    requests = [("replay", b"{not json"), ("nope", b'{"request_id": "x"}'),
                ("replay", b'{"from_seq": 9, "to_seq": 2}'), ("replay", b"[1, 2]")]
    for name, payload in requests:
        handler.on_message(f"{BASE}/cmd/{name}", payload, None)
        await answered(daemon, len(daemon.answers) + 1)  # one at a time: answers keep the order asked
    errors = [(topic.rsplit("/", 1)[-1], answer["ok"], answer["error"]) for topic, answer, _, _ in daemon.answers]
    assert [name for name, _, _ in errors] == ["replay", "nope", "replay", "replay"]
    assert not any(ok for _, ok, _ in errors)
    assert errors[0][2].startswith("invalid JSON")
    assert "unknown command 'nope'" in errors[1][2] and daemon.answers[1][1]["request_id"] == "x"
    assert "must not be greater" in errors[2][2]
    assert errors[3][2] == "the payload must be a JSON object"


async def test_a_command_past_the_bound_is_refused_busy_without_running(config: Config) -> None:
    """With MAX_COMMANDS_WAITING waiting, a command is answered busy at once and not run."""
    daemon = RecordingDaemon(config)
    daemon.waiting = MAX_COMMANDS_WAITING
    CommandHandler(daemon.ports()).on_message(f"{BASE}/cmd/rebirth", b'{"request_id": "late"}', None)
    [(topic, answer, _, busy)] = daemon.answers  # answered at once, not in a task
    assert busy and daemon.births == 0
    assert answer["ok"] is False and answer["error"].startswith("busy: 1000 commands waiting")
    assert answer["request_id"] == "late" and topic == f"{BASE}/cmd-res/rebirth"


async def test_the_answer_echoes_the_correlation_data(config: Config) -> None:
    """MQTT 5 request/response: the answer carries the request's correlation data."""
    daemon = RecordingDaemon(config)
    request = Properties(PacketTypes.PUBLISH)
    request.CorrelationData = b"corr-1"
    CommandHandler(daemon.ports()).on_message(f"{BASE}/cmd/rebirth", b"", request)
    [(_, _, properties, _)] = await answered(daemon)
    assert properties.CorrelationData == b"corr-1"


async def test_without_a_link_the_answer_is_logged_as_lost(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    """No broker link to answer on: the command still runs and the lost answer is logged."""
    daemon = RecordingDaemon(config)
    daemon.link_up = False
    caplog.set_level(logging.INFO, logger="storegw.cmd")
    CommandHandler(daemon.ports()).on_message(f"{BASE}/cmd/rebirth", b"", None)
    await until(lambda: "no broker link to answer on" in caplog.text, what="the warning")
    assert daemon.births == 1


async def test_an_added_command_is_run_and_listed_and_a_name_is_taken_once(config: Config) -> None:
    """Commands added by other parts of the daemon are answered like the built-in ones."""
    daemon = RecordingDaemon(config)
    handler = CommandHandler(daemon.ports())

    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        """Answer with what was asked."""
        return {"ok": True, "echo": request.get("say")}

    handler.add("echo", echo)
    with pytest.raises(ValueError, match="already handled"):
        handler.add("replay", echo)
    handler.on_message(f"{BASE}/cmd/echo", b'{"say": "hi", "request_id": 3}', None)
    handler.on_message(f"{BASE}/cmd/nope", b"{}", None)
    answers = {topic: answer for topic, answer, _, _ in await answered(daemon, 2)}
    assert answers[f"{BASE}/cmd-res/echo"] == {"ok": True, "echo": "hi", "request_id": 3}
    assert answers[f"{BASE}/cmd-res/nope"]["error"] == "unknown command 'nope'; known: replay, rebirth, config, echo"
