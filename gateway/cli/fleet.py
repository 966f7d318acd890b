"""`storegw fleet simulate`: many gateways' worth of real traffic from one process, for backend load tests."""

from __future__ import annotations

import argparse
import re

from gateway.cli.errors import CliError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,58}$")
"""A store prefix or gateway id: the config's Name, leaving room for the 4-digit store number."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `fleet` verb and its `simulate` action."""
    parser = subparsers.add_parser("fleet", help="simulate a fleet of gateways against a broker (load generator)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sim = actions.add_parser("simulate", help="N gateways' real traffic from one process: births, wills, events "
                                              "with real sequences, health, answers to cmd/replay")
    sim.add_argument("--gateways", type=int, default=10, metavar="N", help="simulated gateways (default 10)")
    sim.add_argument("--rate", type=float, default=1.0, metavar="R", help="events per second per gateway (default 1)")
    sim.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL",
                     help="mqtt://[user:password@]host[:port] or mqtts://... (default mqtt://127.0.0.1:1883)")
    sim.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    sim.add_argument("--protocol", choices=("5", "3.1.1"), default="5", help="MQTT version (default 5)")
    sim.add_argument("--topic-prefix", default="storegw/v1", help="as mqtt.topic_prefix (default storegw/v1)")
    sim.add_argument("--store-prefix", default="sim-store-",
                     help="store ids are this plus 0001, 0002, ... (default sim-store-)")
    sim.add_argument("--gateway-id", default="gw1", help="gateway id of every simulated store (default gw1)")
    sim.add_argument("--client-prefix", default="storegw-sim-",
                     help="MQTT client ids are this plus 0001, 0002, ... (default storegw-sim-)")
    sim.add_argument("--event-type", choices=("synthetic", "footfall"), default="synthetic",
                     help="payload of the events (default synthetic)")
    sim.add_argument("--health-s", type=float, default=60.0, metavar="S", help="health event interval (default 60)")
    sim.add_argument("--max-inflight", type=int, default=20, help="publish window per gateway (default 20)")
    sim.add_argument("--keep", type=int, default=10_000, metavar="N",
                     help="events each gateway holds in RAM for cmd/replay (default 10000)")
    sim.add_argument("--ramp-s", type=float, default=0.0, metavar="S", help="start the gateways over S seconds")
    sim.add_argument("--reconnect-max-s", type=float, default=30.0, metavar="S",
                     help="cap of the jittered reconnect backoff (default 30)")
    sim.add_argument("--state", metavar="FILE",
                     help="keep boots and sequences here: a second run continues them instead of starting at 1")
    sim.add_argument("--report-s", type=float, default=5.0, metavar="S", help="progress line interval (default 5)")
    sim.add_argument("--drain-s", type=float, default=15.0, metavar="S",
                     help="at the end, wait up to S seconds for the broker to ack what is pending (default 15)")
    sim.add_argument("--seed", type=int, help="seed of the gateways' random phases")
    sim.add_argument("--json", action="store_true", help="print the summary as one JSON line on stdout")
    sim.set_defaults(func=simulate_command)


def check(args: argparse.Namespace) -> None:
    """Refuse, in one sentence, arguments that cannot make a fleet."""
    if args.gateways < 1 or args.gateways > 9999:
        raise CliError(f"--gateways must be between 1 and 9999, not {args.gateways}")
    if not 0 < args.rate <= 10_000:
        raise CliError(f"--rate must be above 0 and at most 10000 events/s per gateway, not {args.rate:g}")
    for flag, value in (("--store-prefix", args.store_prefix + "0"), ("--gateway-id", args.gateway_id)):
        if not NAME.match(value):
            raise CliError(f"{flag} {value!r}: letters, digits, '.', '_' and '-' only, starting with a letter or digit")
    for flag, number in (("--seconds", args.seconds), ("--health-s", args.health_s), ("--report-s", args.report_s)):
        if number is not None and number <= 0:
            raise CliError(f"{flag} must be above 0, not {number:g}")
    if args.max_inflight < 1 or args.keep < 1:
        raise CliError("--max-inflight and --keep must be at least 1")


def simulate_command(args: argparse.Namespace) -> int:
    """Run the fleet; exit 1 when a gateway never connected or events were left unacknowledged."""
    from urllib.parse import unquote, urlsplit

    from gateway.fleet.gateway import FleetOptions
    from gateway.fleet.simulate import RunPlan, simulate

    check(args)
    url = urlsplit(args.broker)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        raise CliError(f"--broker must be mqtt://host[:port] or mqtts://host[:port], not {url.scheme or 'no'} scheme")
    try:
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise CliError(f"--broker: {exc}") from None
    options = FleetOptions(
        host=url.hostname, port=port, tls=url.scheme == "mqtts",
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None, protocol=args.protocol,
        topic_prefix=args.topic_prefix, store_prefix=args.store_prefix, gateway_id=args.gateway_id,
        client_prefix=args.client_prefix, rate=args.rate, event_type=args.event_type, health_s=args.health_s,
        max_inflight=args.max_inflight, keep=args.keep, reconnect_max_s=args.reconnect_max_s)
    plan = RunPlan(gateways=args.gateways, seconds=args.seconds, report_s=args.report_s, drain_s=args.drain_s,
                   ramp_s=args.ramp_s, state=args.state, seed=args.seed)
    try:
        return simulate(options, plan, as_json=args.json)
    except ValueError as exc:  # an unreadable --state file
        raise CliError(str(exc)) from None
