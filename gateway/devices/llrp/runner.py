"""Runs an LLRP reader: tag reads -> inventory pipeline -> item and stock-count events.

The path of one read: ``LLRPDriver`` posts a batch of ``TagRead`` to ``on_reads`` below,
``InventoryPipeline.feed`` turns each into events, ``DeviceContext.emit_all`` hands them to the
``EventSink`` (the gateway), whose ``commit_event`` queues them for the outbox.
"""

from __future__ import annotations

from drivers.llrp import LLRPDriver, TagRead
from gateway.devices.context import DeviceContext
from gateway.devices.llrp.config import LLRPConfig
from gateway.devices.stream import run_stream
from gateway.pipelines.rfid_inventory import InventoryPipeline, InventorySettings


def inventory_settings(cfg: LLRPConfig) -> InventorySettings:
    """Pipeline settings of one reader."""
    return InventorySettings(zones={(cfg.id, int(a)): zone for a, zone in cfg.zones.items()},
                             exit_zones=frozenset(cfg.exit_zones), departed_after_s=cfg.departed_after_s,
                             cycle_s=cfg.cycle_s, hysteresis_db=cfg.hysteresis_db, max_tags=cfg.max_tags)


async def run_device(cfg: LLRPConfig, ctx: DeviceContext) -> None:
    """Inventory until cancelled; the driver reconnects by itself."""
    driver = LLRPDriver(cfg.id, host=cfg.host, port=cfg.port, reader_config=cfg.sllurp_settings(),
                        silence_timeout_s=cfg.silence_timeout_s, stats=ctx.stats)
    pipeline = InventoryPipeline(inventory_settings(cfg))
    last_reads, last_t = 0, ctx.clock()

    def on_reads(reads: list[TagRead]) -> None:
        """Feed a batch of tag reads to the pipeline."""
        for read in reads:
            ctx.emit_all(pipeline.feed(cfg.id, read.epc, read.antenna, read.rssi, read.time))

    def tick(now: float) -> None:
        """Close intervals and refresh health."""
        nonlocal last_reads, last_t
        ctx.emit_all(pipeline.tick(now))
        rate = (driver.reads_total - last_reads) / max(now - last_t, 1e-3)
        last_reads, last_t = driver.reads_total, now
        ctx.stats.extra.update(reads_per_s=round(rate, 1), tags=len(pipeline.tags), cycle=pipeline.cycle,
                               connected=ctx.stats.state == "connected")

    await run_stream(driver, ctx, on_reads, tick=tick)
