"""Commands from the backend on `.../cmd/{name}`, answered on `.../cmd-res/{name}`."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.config import Config
from gateway.config.redact import redacted_config
from gateway.mqtt.link import response_properties
from gateway.mqtt.replay import RangeSet, ReplayBusy, ReplayFailed, ReplayRequest, split_missing
from gateway.mqtt.topics import answer_topic

log = logging.getLogger("storegw.cmd")

MAX_REPLAY = 100_000
"""Most sequence numbers one cmd/replay may span (the replay itself is paged, this bounds one answer)."""
SEQ_MAX = 2**63 - 1
"""The largest sequence number the outbox can issue (SQLite's INTEGER PRIMARY KEY)."""
MAX_REQUEST_BYTES = 64 * 1024
MAX_COMMANDS_WAITING = 1000
"""Commands being run or whose answer waits for the broker; more are refused with a 'busy' answer."""
SECRET_KEYS = ("password_file", "key_password_file")


class CommandError(Exception):
    """A request that cannot be run; the message is the answer's error sentence."""


def parse_request(payload: bytes) -> dict[str, Any]:
    """The JSON object of a command, or CommandError saying in a sentence what is wrong with it."""
    if len(payload) > MAX_REQUEST_BYTES:
        raise CommandError(f"the request is {len(payload):,} bytes; at most {MAX_REQUEST_BYTES:,} are accepted")
    try:
        request = json.loads(payload or b"{}")
    except RecursionError:
        raise CommandError("invalid JSON: nested too deeply; a command is a flat JSON object "
                           'such as {"from_seq": 10, "to_seq": 20}') from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise CommandError("invalid JSON: a number in the request has thousands of digits; "
                               f"sequence numbers are at most {SEQ_MAX}") from None
        raise CommandError(f"invalid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise CommandError("the payload must be a JSON object")
    return request


def sequence_number(request: dict[str, Any], key: str) -> int:
    """``request[key]`` as a sequence number (an integer, or its zero-padded decimal string)."""
    value = request.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if value is None:
        raise CommandError(f'replay needs {key}: give from_seq and to_seq, e.g. {{"from_seq": 10, "to_seq": 20}}')
    if isinstance(value, bool) or not isinstance(value, int):
        shown = "a JSON array or object" if isinstance(value, list | dict) else json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise CommandError(f"{key} must be a whole sequence number between 1 and {SEQ_MAX}, not {shown}")
    if value < 1:
        raise CommandError(f"{key} must be a sequence number between 1 and {SEQ_MAX}, not {value}: "
                           "sequence numbers start at 1")
    if value > SEQ_MAX:
        shown = str(value) if value.bit_length() <= 128 else f"a {len(str(value))}-digit number"
        raise CommandError(f"{key} must be a sequence number between 1 and {SEQ_MAX}, not {shown}: "
                           "no gateway issues numbers that high")
    return value


Command = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""One command: its JSON request in, its answer out (raise CommandError for an error answer)."""


@dataclass(frozen=True, slots=True)
class CommandPorts:
    """The few things commands use of the daemon.

    Each is called when a command runs, not bound once: a reload may replace the broker link while a
    replay is under way, and its answer must go out on the new one.
    """

    outbox: object
    """The outbox; its ``never_issued_ranges(from_seq, to_seq)`` (sync or async), when it has one, tells
    pruned numbers from numbers never issued."""
    replay: Callable[[int, int], ReplayRequest]
    """Queue a replay of from_seq..to_seq; raises ReplayBusy when too many wait."""
    answer: Callable[[str, bytes, Any, bool], bool]
    """Queue an answer (topic, payload, MQTT 5 properties, busy); False when there is no link to answer on."""
    answers_waiting: Callable[[], int]
    """Answers waiting for room in the publish window."""
    topic: Callable[[], str]
    """The gateway's base topic."""
    rebirth: Callable[[], int]
    """Publish the retained birth again; returns the boot it announced."""
    running_config: Callable[[], Config]
    """The config the daemon runs with."""
    config_origin: Callable[[], dict[str, Any]] | None = None
    """Where the running config came from: source (local or remote), version, sha256, state (gateway/remote)."""


class CommandHandler:
    """Parses commands and answers each one; a bad command gets an error answer, never a crash."""

    def __init__(self, ports: CommandPorts) -> None:
        """Commands run with ``ports``, answered through the publish window."""
        self.ports = ports
        self._tasks: set[asyncio.Task[None]] = set()
        self._commands: dict[str, Command] = {"replay": self._replay, "rebirth": self._rebirth, "config": self._config}

    def add(self, name: str, command: Command) -> None:
        """Answer ``.../cmd/{name}`` with ``command`` (request in, answer out; CommandError is an error answer)."""
        if name in self._commands:
            raise ValueError(f"command {name!r} is already handled")
        self._commands[name] = command

    def waiting(self) -> int:
        """Commands being run plus answers waiting for room in the publish window."""
        return len(self._tasks) + self.ports.answers_waiting()

    def on_message(self, topic: str, payload: bytes, properties: Any) -> None:
        """Entry from the link (on the loop thread)."""
        name = topic.rsplit("/", 1)[-1]
        waiting = self.waiting()
        if waiting >= MAX_COMMANDS_WAITING:
            self._refuse_busy(name, payload, properties, waiting)
            return
        task = asyncio.create_task(self._handle(name, payload, properties))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse_busy(self, name: str, payload: bytes, properties: Any, waiting: int) -> None:
        """Answer without running: too many commands wait already."""
        try:
            request: dict[str, Any] | None = parse_request(payload)
        except CommandError:
            request = None
        result = {"ok": False, "error": f"busy: {waiting} commands waiting; ask again when they are answered"}
        self._answer(name, result, request, properties, busy=True)

    async def _handle(self, name: str, payload: bytes, properties: Any) -> None:
        """Run one command and publish its answer."""
        try:
            request = parse_request(payload)
        except CommandError as exc:
            log.info("command %s refused: %s", name, exc)
            self._answer(name, {"ok": False, "error": str(exc)}, None, properties)
            return
        handler = self._commands.get(name)
        if handler is None:
            result: dict[str, Any] = {"ok": False,
                                      "error": f"unknown command {name!r}; known: {', '.join(self._commands)}"}
        else:
            try:
                result = await handler(request)
            except CommandError as exc:
                result = {"ok": False, "error": str(exc)}
            except Exception as exc:
                log.exception("command %s failed", name)
                result = {"ok": False, "error": f"the gateway failed to run {name} ({type(exc).__name__}); "
                                                "see its log"}
        log.info("command %s: %s", name, "ok" if result.get("ok") else result.get("error"))
        self._answer(name, result, request, properties)

    def _answer(self, name: str, result: dict[str, Any], request: dict[str, Any] | None,
                properties: Any, *, busy: bool = False) -> None:
        """Queue the answer (it waits for room in the window, never dropped), echoing `request_id`."""
        if request and isinstance(request.get("request_id"), str | int):
            result["request_id"] = request["request_id"]
        if not self.ports.answer(answer_topic(self.ports.topic(), name), json.dumps(result).encode(),
                                 response_properties(properties), busy):
            log.warning("command %s: no broker link to answer on", name)

    async def _replay(self, request: dict[str, Any]) -> dict[str, Any]:
        """Re-publish a range of sequence numbers from the outbox; answer once all is handed over."""
        first, last = sequence_number(request, "from_seq"), sequence_number(request, "to_seq")
        if last < first:
            raise CommandError(f"from_seq ({first}) must not be greater than to_seq ({last})")
        if last - first + 1 > MAX_REPLAY:
            raise CommandError(f"from_seq..to_seq spans {last - first + 1:,} sequence numbers; at most "
                               f"{MAX_REPLAY:,} per request: split the range into several requests")
        try:
            replay = self.ports.replay(first, last)
        except ReplayBusy as exc:
            return {"ok": False, "error": str(exc)}
        try:
            done = await replay.done
        except ReplayFailed as exc:
            return {"ok": False, "error": str(exc)}
        return await self._replay_answer(done)

    async def _replay_answer(self, replay: ReplayRequest) -> dict[str, Any]:
        """The answer of a finished replay: what was sent, and the missing numbers, pruned or never issued."""
        skipped: list[tuple[int, int]] = []
        never_issued_ranges = getattr(self.ports.outbox, "never_issued_ranges", None)
        if never_issued_ranges is not None and replay.missing:
            found = never_issued_ranges(replay.from_seq, replay.to_seq)
            if inspect.isawaitable(found):
                found = await found
            skipped = [(int(lo), int(hi)) for lo, hi in found]
        pruned, never_issued = split_missing(replay.missing, skipped)
        answer: dict[str, Any] = {
            "ok": True, "from_seq": replay.from_seq, "to_seq": replay.to_seq, "replayed": replay.replayed,
            "pruned": [list(r) for r in pruned], "never_issued": [list(r) for r in never_issued],
            "last_seq": replay.last_seq,
            "missing": [list(r) for r in RangeSet(pruned + never_issued)]}
        if replay.truncated:
            answer["truncated"] = True
        log.info("replay %d..%d: %d replayed in %d pages, %d pruned, %d never issued", replay.from_seq,
                 replay.to_seq, replay.replayed, replay.pages, RangeSet(pruned).count(),
                 RangeSet(never_issued).count())
        return answer

    async def _rebirth(self, request: dict[str, Any]) -> dict[str, Any]:
        """Publish the retained birth again."""
        return {"ok": True, "boot": self.ports.rebirth()}

    async def _config(self, request: dict[str, Any]) -> dict[str, Any]:
        """The running config, with secret file paths redacted."""
        config = redacted_config(msgspec.to_builtins(self.ports.running_config()))  # URL credentials too
        for key in SECRET_KEYS:
            if config["mqtt"].get(key):
                config["mqtt"][key] = "(set)"
        origin = self.ports.config_origin() if self.ports.config_origin is not None else {}
        return {"ok": True, "config": config, **origin}
