"""Runs a serial people counter: driver readings -> FootfallCounter -> footfall events.

The last cumulative counts are kept in ``{data_dir}/state/{id}.counter.json``, so people who
passed while the gateway was restarting are counted in the first interval after it.
"""

from __future__ import annotations

import functools
import json
import os

from drivers.serial_counter import CounterReading, SerialCounterDriver
from gateway.devices.context import DeviceContext
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.shop_fronts import SHOP_FRONTS, ShopFrontBoard
from gateway.devices.signals import BOARD as BADGES
from gateway.devices.signals import BadgeBoard
from gateway.devices.store_occupancy import join_store_occupancy
from gateway.devices.stream import run_stream
from gateway.pipelines.counter_retail import CounterRetail, CounterRetailSettings
from gateway.pipelines.counters import Baseline, FootfallCounter
from gateway.pipelines.people.badge_claims import BadgeCheck

TICK_S = 1.0


def _state_path(ctx: DeviceContext) -> str:
    """Where this device's baseline is kept."""
    return os.path.join(ctx.data_dir, "state", f"{ctx.device_id}.counter.json")


def load_baseline(ctx: DeviceContext) -> Baseline | None:
    """The baseline saved by the previous run, if any and readable."""
    try:
        with open(_state_path(ctx), encoding="utf-8") as handle:
            raw = json.load(handle)
        return Baseline(str(raw["sensor_id"]), int(raw["count_in"]), int(raw["count_out"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        ctx.log.warning("%s: ignoring unreadable counter state (%s)", ctx.device_id, exc)
        return None


def save_baseline(ctx: DeviceContext, baseline: Baseline | None) -> None:
    """Atomically replace the saved baseline."""
    if baseline is None:
        return
    path = _state_path(ctx)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"sensor_id": baseline.sensor_id, "count_in": baseline.count_in,
                   "count_out": baseline.count_out}, handle)
    os.replace(tmp, path)


def report_reading(ctx: DeviceContext, line: str, since: float, now: float, people_in: int, people_out: int) -> None:
    """One reading's customers for the audit (staff are not: the camera tells customers only too), in [since, now]."""
    for direction, people in (("in", people_in), ("out", people_out)):
        if people:
            ctx.crossed(line, direction, min(since, now), now, people)
    if not (people_in or people_out):
        ctx.crossed(line, "in", now, None, 0)  # nobody: the device has counted up to now


def counter_retail(cfg: SerialCounterConfig, badges: BadgeBoard = BADGES,
                   fronts: ShopFrontBoard = SHOP_FRONTS) -> CounterRetail:
    """The counter's staff, groups and shop front; watching its badge scanner and its front as configured.

    The watches are this counter's (its id); ``release_counter_retail`` gives them back when it stops.
    """
    staff = cfg.staff
    check = sightings = passers_by = None
    if staff is not None and staff.badge_uuid:
        check = BadgeCheck(staff.badge_uuid, staff.badge_rssi_min, staff.badge_window_s)
        sightings = badges.watch(staff.badge_scanner, staff.badge_uuid, cfg.id)
    if cfg.shop_front:
        fronts.watch(cfg.shop_front, cfg.id)
        passers_by = functools.partial(fronts.people, cfg.shop_front)
    return CounterRetail(CounterRetailSettings(staff=check, badges=sightings, group_window_s=cfg.group_window_s,
                                               passers_by=passers_by, max_gap_s=cfg.unplug_timeout_s))


def release_counter_retail(cfg: SerialCounterConfig, badges: BadgeBoard = BADGES,
                           fronts: ShopFrontBoard = SHOP_FRONTS) -> None:
    """The counter stops: undo the watches ``counter_retail`` took, so a removed door's front and badge UUID go."""
    if cfg.staff is not None and cfg.staff.badge_uuid:
        badges.unwatch(cfg.staff.badge_scanner, cfg.staff.badge_uuid, cfg.id)
    if cfg.shop_front:
        fronts.unwatch(cfg.shop_front, cfg.id)


async def run_device(cfg: SerialCounterConfig, ctx: DeviceContext) -> None:
    """Count people at one door until cancelled; the driver survives unplugs by itself."""
    counter_bits = 16 if cfg.protocol == "terabee" else cfg.counter_bits
    driver = SerialCounterDriver(cfg.id, port=cfg.port, protocol=cfg.protocol, baudrate=cfg.baudrate,
                                 read_timeout_s=cfg.read_timeout_s, unplug_timeout_s=cfg.unplug_timeout_s,
                                 counter_bits=counter_bits, stats=ctx.stats)
    # the store's count, shared with every door naming the same occupancy (None when this door keeps none);
    # joined just before the try: what comes between only builds objects and reads the saved baseline
    # (whose errors it catches), so nothing can fail between the join and the finally that leaves it
    occupancy = join_store_occupancy(cfg, ctx)
    retail = counter_retail(cfg)  # after the join: a refused join leaves no watch behind; released in the finally
    counter = FootfallCounter(cfg.door or cfg.id, cfg.interval_s, counter_bits, load_baseline(ctx), occupancy,
                              retail=retail)
    # when the last reading came; at first the start (people counted while the daemon was down came before it)
    previous = [ctx.clock()]

    def on_reading(reading: CounterReading) -> None:
        """Turn one reading into events, and tell the audit's feed what it added since the previous one."""
        events = counter.tick(reading.time)  # intervals that ended first, so the counts below are this reading's
        before = counter.people_in, counter.people_out
        events += counter.feed(reading.sensor_id, reading.count_in, reading.count_out, reading.time)
        report_reading(ctx, counter.line, previous[0], reading.time, counter.people_in - before[0],
                       counter.people_out - before[1])
        previous[0] = reading.time
        counted = retail.take_reading()
        if counted is not None:  # a door may count this counter's people as its passers-by
            SHOP_FRONTS.post(cfg.id, *counted, max_gap_s=cfg.unplug_timeout_s)
        ctx.emit_all(events)
        ctx.stats.extra.update(resets=counter.resets, wraps=counter.wraps, out_of_range=counter.out_of_range)

    def tick(now: float) -> None:
        """Close intervals; a closed interval moves the saved baseline."""
        events = counter.tick(now)
        if events:
            ctx.emit_all(events)
            save_baseline(ctx, counter.baseline)

    def flush(now: float) -> None:
        """Report the interval in progress and keep the baseline for the next run."""
        ctx.emit_all(counter.flush(now))
        save_baseline(ctx, counter.baseline)

    try:
        await run_stream(driver, ctx, on_reading, tick=tick, flush=flush, tick_s=TICK_S)
    finally:
        release_counter_retail(cfg)  # a door stopped or removed by a reload: its front and badge UUID go
        if occupancy is not None:
            occupancy.close(ctx.clock())  # saved; the count stays the store's, this door leaves it
