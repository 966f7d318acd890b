"""Commands from the backend on `.../cmd/{name}`, answered on `.../cmd-res/{name}`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.mqtt.link import response_properties

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("storegw.cmd")

MAX_REPLAY = 100_000
SECRET_KEYS = ("password_file", "key_password_file")


class CommandHandler:
    """Parses commands and answers each one; a bad command gets an error answer, never a crash."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._tasks: set[asyncio.Task[None]] = set()

    def on_message(self, topic: str, payload: bytes, properties: Any) -> None:
        """Entry from the link (on the loop thread)."""
        name = topic.rsplit("/", 1)[-1]
        task = asyncio.create_task(self._handle(name, payload, properties))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, name: str, payload: bytes, properties: Any) -> None:
        """Run one command and publish its answer."""
        try:
            request = json.loads(payload or b"{}")
            if not isinstance(request, dict):
                raise ValueError("the payload must be a JSON object")
        except ValueError as exc:
            await self._answer(name, {"ok": False, "error": f"invalid JSON: {exc}"}, None, properties)
            return
        handler = {"replay": self._replay, "rebirth": self._rebirth, "config": self._config}.get(name)
        if handler is None:
            result: dict[str, Any] = {"ok": False, "error": f"unknown command {name!r}; known: replay, rebirth, config"}
        else:
            try:
                result = await handler(request)
            except Exception as exc:
                log.exception("command %s failed", name)
                result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        log.info("command %s: %s", name, "ok" if result.get("ok") else result.get("error"))
        await self._answer(name, result, request, properties)

    async def _answer(self, name: str, result: dict[str, Any], request: dict[str, Any] | None,
                      properties: Any) -> None:
        """Publish the answer, echoing `request_id` and MQTT 5 correlation data."""
        if request and "request_id" in request:
            result["request_id"] = request["request_id"]
        link = self.gateway.link
        if link is not None:
            link.publish(f"{self.gateway.topic}/cmd-res/{name}", json.dumps(result).encode(),
                         properties=response_properties(properties))

    async def _replay(self, request: dict[str, Any]) -> dict[str, Any]:
        """Re-publish a range of sequence numbers from the outbox."""
        try:
            first, last = int(request["from_seq"]), int(request["to_seq"])
        except (KeyError, TypeError, ValueError):
            return {"ok": False, "error": "replay needs integer from_seq and to_seq"}
        if first < 1 or last < first:
            return {"ok": False, "error": "need 1 <= from_seq <= to_seq"}
        if last - first + 1 > MAX_REPLAY:
            return {"ok": False, "error": f"at most {MAX_REPLAY} events per replay; split the range"}
        rows = await self.gateway.outbox.read_range(first, last, MAX_REPLAY)
        present = {row.seq for row in rows}
        missing: list[list[int]] = []
        for seq in range(first, min(last, self.gateway.outbox.last_seq) + 1):
            if seq not in present:
                if missing and missing[-1][1] == seq - 1:
                    missing[-1][1] = seq
                else:
                    missing.append([seq, seq])
        assert self.gateway.publisher
        self.gateway.publisher.replay(rows)
        return {"ok": True, "from_seq": first, "to_seq": last, "replayed": len(rows), "missing": missing,
                "last_seq": self.gateway.outbox.last_seq}

    async def _rebirth(self, request: dict[str, Any]) -> dict[str, Any]:
        """Publish the retained birth again."""
        self.gateway.publish_birth()
        return {"ok": True, "boot": self.gateway.outbox.boot}

    async def _config(self, request: dict[str, Any]) -> dict[str, Any]:
        """The running config, with secret file paths redacted."""
        config = msgspec.to_builtins(self.gateway.config)
        for key in SECRET_KEYS:
            if config["mqtt"].get(key):
                config["mqtt"][key] = "(set)"
        return {"ok": True, "config": config}
