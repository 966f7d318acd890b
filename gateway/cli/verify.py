"""`storegw verify`: subscribe like a backend and check the stream: duplicates, gaps, replays."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.cli.errors import CliError
from gateway.consumer import ReplayWait, StreamCheck, split_span, subtract


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `verify` verb."""
    parser = subparsers.add_parser("verify", help="check a gateway's stream on the broker: duplicates, gaps, replay")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--prefix", default="storegw/v1")
    parser.add_argument("--store", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to listen")
    parser.add_argument("--since", type=int, help="expect every sequence number from this one on")
    parser.add_argument("--replay", action="store_true", help="ask cmd/replay for the gaps found, then listen again")
    parser.add_argument("--max-replay", type=int, default=1_000_000, metavar="N",
                        help="ask for at most N missing numbers in all (in requests of at most 100,000)")
    parser.add_argument("--idle-timeout", type=float, default=30.0, metavar="S",
                        help="after a replay request, keep waiting while replayed events or answers arrive; "
                             "give up after S seconds without any (default 30)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=verify_command)


def wait_for_replay(wait: ReplayWait, check: StreamCheck, lock: threading.Lock, idle_timeout: float,
                    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                    poll_s: float = 0.25) -> tuple[list[list[int]], float]:
    """Wait while the replay makes progress; return (ranges still awaited, seconds waited).

    However long a replay takes, verify waits as long as replayed events or answers keep coming;
    it gives up only after ``idle_timeout`` seconds with neither.
    """
    started = last_progress = clock()
    marker: tuple[int, int] | None = None
    while True:
        with lock:
            waiting, progress = wait.status(check.sequences)
        now = clock()
        if not waiting:
            return [], now - started
        if progress != marker:
            marker, last_progress = progress, now
        elif now - last_progress >= idle_timeout:
            return waiting, now - started
        sleep(poll_s)


def verify_command(args: argparse.Namespace) -> int:
    """Listen, check, optionally replay; exit 1 when gaps remain."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.mqtt.settings import parse_url
    from gateway.mqtt.topics import command_topic, gateway_topic

    if args.idle_timeout <= 0:
        raise CliError(f"bad --idle-timeout {args.idle_timeout:g}: give a number of seconds above 0", 2)
    host, port, tls = parse_url(args.broker)
    base = gateway_topic(args.prefix, args.store, args.gateway)
    check = StreamCheck()
    lock = threading.Lock()
    answers: list[dict[str, Any]] = []
    wait = ReplayWait()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        """Sort events from command answers (paho's thread)."""
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with lock:
            if "/cmd-res/" in message.topic:
                answers.append(payload)
                if message.topic.endswith("/cmd-res/replay"):
                    wait.answer(payload)
            elif isinstance(payload, dict) and "sequence" in payload:
                check.add(payload)

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"storegw-verify-{time.time_ns()}",
                         protocol=paho.MQTTv5)
    if tls:
        client.tls_set()
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: (c.subscribe(f"{base}/#", qos=1))
    try:
        client.connect(host, port, 30)
    except OSError as exc:
        raise CliError(f"cannot reach the broker {host}:{port} ({exc.strerror or exc})", 1) from None
    client.loop_start()
    time.sleep(args.seconds)
    replayed: list[list[int]] = []
    outstanding: list[list[int]] = []
    waited = 0.0
    if args.replay:
        with lock:
            requests = replay_requests(check.gaps(args.since), args.max_replay)
            for first, last in requests:
                wait.ask(f"verify-{first}", first, last)
        for first, last in requests:
            client.publish(command_topic(base, "replay"), json.dumps({"from_seq": first, "to_seq": last,
                                                              "request_id": f"verify-{first}"}), qos=1)
            replayed.append([first, last])
        if requests:
            outstanding, waited = wait_for_replay(wait, check, lock, args.idle_timeout)
    client.disconnect()
    client.loop_stop()
    with lock:
        gaps = subtract(check.gaps(args.since), wait.declared("never_issued"))
        lost = wait.declared("pruned")
        result = {"gateway": base, "events": check.events, "unique": len(check.seen_ids),
                  "duplicates": check.duplicates, "boots": sorted(check.boots), "types": check.types,
                  "first_seq": min(check.sequences) if check.sequences else None,
                  "last_seq": max(check.sequences) if check.sequences else None,
                  "gaps": gaps, "never_issued": sorted(check.never_issued + wait.declared("never_issued")),
                  "lost": lost, "replay_requested": replayed,
                  "replay_answers": [{k: a.get(k) for k in ("ok", "replayed", "pruned", "never_issued", "error")}
                                     for a in answers if isinstance(a, dict)],
                  "replay_waited_s": round(waited, 1), "replay_outstanding": outstanding}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{base}: {result['events']} events ({result['duplicates']} duplicates), sequence "
              f"{result['first_seq']}..{result['last_seq']}, boots {result['boots']}")
        print("gaps: " + (", ".join(f"{a}-{b}" for a, b in gaps) if gaps else "none"))
        if result["never_issued"]:
            print("never issued (the gateway says so; not a loss): "
                  + ", ".join(f"{a}-{b}" for a, b in result["never_issued"]))
        if lost:
            print("lost (pruned from the gateway's outbox before they were delivered): "
                  + ", ".join(f"{a}-{b}" for a, b in lost))
        if outstanding:
            print(f"replay: gave up after {args.idle_timeout:g} s without a replayed event or an answer "
                  f"(waited {waited:.0f} s in all); still missing: " + ", ".join(f"{a}-{b}" for a, b in outstanding))
    return 1 if gaps or not check.events else 0


def replay_requests(gaps: list[list[int]], most: int) -> list[list[int]]:
    """The gaps as `cmd/replay` requests the gateway accepts (≤ MAX_REPLAY_SPAN each), at most ``most`` numbers."""
    requests: list[list[int]] = []
    budget = most
    for first, last in gaps:
        if budget <= 0:
            break
        last = min(last, first + budget - 1)
        requests += split_span(first, last)
        budget -= last - first + 1
    return requests
