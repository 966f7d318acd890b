"""The in-memory log ring behind cmd/logs: bounded, filtered by level, redacted like the log output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.logsetup import RING_LINE_CHARS, LogRing, install_log_ring, redact_line
from gateway.mqtt.commands import CommandError
from gateway.mqtt.diagnostics import LOGS_MAX, LOGS_MAX_BYTES, Diagnostics, DiagnosticsPorts


@pytest.fixture
def ring() -> Iterator[tuple[LogRing, logging.Logger]]:
    """A ring on a logger of its own, at debug, not propagating to the test run's handlers."""
    logger = logging.getLogger("storegw.test.ring")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    ring = LogRing(capacity=50)
    logger.addHandler(ring)
    yield ring, logger
    logger.removeHandler(ring)


def diagnostics(ring: LogRing) -> Diagnostics:
    """The commands with only the log ring wired (the other ports are not used by cmd/logs)."""
    def unused(*args: Any) -> Any:
        """A port cmd/logs must not touch."""
        raise AssertionError("not used by cmd/logs")
    return Diagnostics(DiagnosticsPorts(running_config=unused, config_path=unused, link=unused,
                                        device_health=unused, restart_device=unused, log_ring=ring))


def test_the_ring_keeps_the_newest_lines_up_to_its_capacity(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    for n in range(120):
        logger.info("line %d", n)
    lines = handler.latest(1000)
    assert len(lines) == 50
    assert lines[0].endswith("line 70") and lines[-1].endswith("line 119")
    assert handler.latest(3)[-1].endswith("line 119") and len(handler.latest(3)) == 3
    assert handler.latest(0) == []


def test_level_selects_that_level_and_above(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    assert [line.split(" ", 2)[1] for line in handler.latest(10, logging.WARNING)] == ["WARNING", "ERROR"]
    assert len(handler.latest(10, logging.DEBUG)) == 4
    # the newest N at or above the level, not the newest N filtered afterwards
    assert handler.latest(1, logging.WARNING)[0].endswith("storegw.test.ring: e")


def test_lines_carry_utc_time_level_and_logger(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    logger.warning("door-1: unplugged")
    line = handler.latest(1)[0]
    stamp, level, rest = line.split(" ", 2)
    assert stamp.endswith("Z") and "T" in stamp and len(stamp) == len("2026-01-01T00:00:00.000Z")
    assert (level, rest) == ("WARNING", "storegw.test.ring: door-1: unplugged")


def test_url_credentials_and_ble_addresses_never_reach_the_ring(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    logger.warning("cannot open %s", "rtsp://admin:hunter2@10.0.0.5/stream")
    logger.debug("bleak: received AA:BB:CC:DD:EE:FF rssi -60 on /org/bluez/hci0/dev_11_22_33_44_55_66")
    try:
        raise OSError("connect to mqtts://gw:s3cret@broker:8883 failed")
    except OSError:
        logger.exception("link failed")
    text = "\n".join(handler.latest(10))
    for secret in ("hunter2", "s3cret", "AA:BB:CC:DD:EE:FF", "11_22_33_44_55_66"):
        assert secret not in text
    assert "rtsp://***@10.0.0.5/stream" in text and "XX:XX:XX:XX:XX:XX" in text
    assert "Traceback" in text  # the traceback is kept, redacted


def test_a_huge_line_is_cut(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    logger.error("x" * 50_000)
    assert len(handler.latest(1)[0]) == RING_LINE_CHARS


def test_redact_line_leaves_times_and_ids_alone() -> None:
    for text in ("12:34:56.789", "uuid 123e4567-e89b-12d3-a456-426614174000", "seq 0000000000000042"):
        assert redact_line(text) == text


def test_install_log_ring_is_idempotent() -> None:
    first = install_log_ring()
    try:
        assert install_log_ring() is first
        assert sum(isinstance(h, LogRing) for h in logging.getLogger().handlers) == 1
    finally:
        logging.getLogger().removeHandler(first)


async def test_cmd_logs_answers_lines_at_the_level_asked(ring: tuple[LogRing, logging.Logger]) -> None:
    handler, logger = ring
    for n in range(10):
        logger.info("info %d", n)
        logger.warning("warning %d", n)
    answer = await diagnostics(handler).logs({"lines": 3, "level": "WARNING"})
    assert answer["ok"] is True and answer["level"] == "warning"
    assert [line.rsplit(": ", 1)[1] for line in answer["lines"]] == ["warning 7", "warning 8", "warning 9"]
    default = await diagnostics(handler).logs({})
    assert len(default["lines"]) == 20 and "truncated" not in default


@pytest.mark.parametrize(("request_", "fragment"), [
    ({"lines": 0}, f"lines must be a whole number from 1 to {LOGS_MAX}, not 0"),
    ({"lines": LOGS_MAX + 1}, f"not {LOGS_MAX + 1}"),
    ({"lines": "10"}, 'not "10"'),
    ({"lines": True}, "not true"),
    ({"level": "verbose"}, 'level must be one of debug, info, warning, error, critical, not "verbose"'),
    ({"level": 30}, "not 30"),
])
async def test_cmd_logs_refuses_a_bad_request_with_a_sentence(ring: tuple[LogRing, logging.Logger],
                                                              request_: dict[str, Any], fragment: str) -> None:
    with pytest.raises(CommandError, match=fragment.replace("(", r"\(")):
        await diagnostics(ring[0]).logs(request_)


async def test_cmd_logs_answer_is_bounded_in_bytes_keeping_the_newest() -> None:
    logger = logging.getLogger("storegw.test.ring.big")
    logger.propagate = False
    handler = LogRing(capacity=1000)
    logger.addHandler(handler)
    try:
        for n in range(1000):
            logger.error("%04d %s", n, "y" * 1500)
        answer = await diagnostics(handler).logs({"lines": 1000, "level": "error"})
    finally:
        logger.removeHandler(handler)
    assert answer["truncated"] is True
    assert len(json.dumps(answer["lines"])) <= LOGS_MAX_BYTES
    assert answer["lines"][-1].split(": ", 1)[1].startswith("0999 ")
