"""The fault catalogue: one function per fault kind a round can inject, and ``clear_all`` to undo any of them."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

from bench.chaos.common import now
from bench.chaos.daemon_config import INVALID_KINDS, invalid_config, valid_change
from bench.chaos.lab import Lab
from bench.chaos.record import RoundRecord
from bench.chaos.storm import storm_finish, storm_start

DISK_SLACK_KB = 384
"""A full-disk fault shrinks the tmpfs to what is used plus this."""


Fault = Callable[[Lab, random.Random, RoundRecord], None]


def gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 the daemon, leave it down a moment, start it again."""
    assert lab.gateway
    down = rng.uniform(0.3, 3.0)
    record.detail = f"down {down:.1f} s"
    lab.fault_begin("gateway-kill")
    lab.gateway.kill9()
    time.sleep(down)
    lab.gateway.start()
    lab.fault_end()
    lab.recover(record, what="after the restart")


def broker_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 mosquitto (it loses what it held), restart it on the same port."""
    assert lab.broker and lab.consumer
    down = rng.uniform(1.0, 5.0)
    record.detail = f"down {down:.1f} s"
    lab.fault_begin("broker-kill")
    lab.broker.stop()
    time.sleep(down)
    lab.broker.start()
    lab.fault_end()
    if not lab.consumer.wait_connected(15):
        record.problem("the consumer did not reconnect to the restarted broker within 15 s")
    lab.recover(record, what="after the broker restart")


def blackhole(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """The proxy stops forwarding (bytes wait, nothing is closed), then heals."""
    assert lab.proxy
    hold = rng.uniform(3.0, 12.0)
    record.detail = f"{hold:.1f} s"
    lab.fault_begin("blackhole")
    lab.proxy.blackhole()
    time.sleep(hold)
    lab.proxy.heal()
    lab.fault_end()
    lab.recover(record, what="after the black hole healed")


def reset(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """The proxy resets every connection (RST both ways), one to three times."""
    assert lab.proxy
    times = rng.randint(1, 3)
    gaps = [rng.uniform(0.3, 2.0) for _ in range(times)]
    lab.fault_begin("reset")
    closed = []
    for gap in gaps:
        closed.append(lab.proxy.reset())
        time.sleep(gap)
    lab.fault_end()
    record.detail = f"{times}x, {sum(closed)} connections reset"
    lab.recover(record, what="after the resets")


def partition(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """`ip link set DEV down` on the daemon's side of the veth, then up."""
    assert lab.netns
    hold = rng.uniform(3.0, 12.0)
    record.detail = f"link down {hold:.1f} s"
    lab.fault_begin("partition")
    if not lab.netns.down():
        record.note("ip link set down failed")
    time.sleep(hold)
    if not lab.netns.up():
        record.problem("ip link set up failed")
    lab.fault_end()
    lab.recover(record, what="after the link came back")


def disk_full(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Shrink the data_dir tmpfs to what is used plus a little, wait for the daemon to hit it, grow it back."""
    assert lab.tmpfs and lab.gateway
    hold = rng.uniform(2.0, 6.0)
    used = lab.tmpfs.used_kb()
    error = lab.tmpfs.resize(used + DISK_SLACK_KB)
    if error:
        record.note(f"could not shrink the tmpfs ({error}); fault skipped")
        return
    lab.fault_begin("disk-full")
    offset = lab.gateway.log_size()
    start = now()
    first_status = lab.gateway.status() or {}
    errors0 = int((first_status.get("outbox") or {}).get("write_errors") or 0)
    hit = ""
    max_queued = 0
    while now() - start < 40 and not hit:
        status = lab.gateway.status() or {}
        outbox = status.get("outbox") or {}
        max_queued = max(max_queued, int(outbox.get("queued_in_ram") or 0))
        if "full" in lab.gateway.log_since(offset).lower():
            hit = "log"
        elif int(outbox.get("write_errors") or 0) > errors0:
            hit = "write_errors"
        elif "full" in str(outbox.get("last_error") or "").lower():
            hit = "last_error"
        time.sleep(0.5)
    filled = now() - start
    end = now() + hold
    while now() < end:
        status = lab.gateway.status() or {}
        max_queued = max(max_queued, int((status.get("outbox") or {}).get("queued_in_ram") or 0))
        time.sleep(0.5)
    error = lab.tmpfs.resize(lab.tmpfs.size_kb)
    lab.fault_end()
    record.detail = (f"tmpfs {used + DISK_SLACK_KB} kB, " + (f"full after {filled:.1f} s ({hit})" if hit else
                     f"no sign of a full disk in {filled:.0f} s") + f", held {hold:.1f} s, "
                     f"up to {max_queued} events in RAM")
    if error:
        record.problem(f"could not grow the tmpfs back ({error})")
    lab.recover(record, timeout=45.0, what="after the disk had room again")


def _reload_and_check(lab: Lab, record: RoundRecord, expect_ok: bool, label: str, wait: float = 10.0) -> None:
    """SIGHUP, then check the daemon lives and logs the reload (or the refusal)."""
    assert lab.gateway
    offset = lab.gateway.log_size()
    lab.gateway.sighup()
    deadline = now() + wait
    verdict = ""
    while now() < deadline and not verdict:
        text = lab.gateway.log_since(offset).lower()
        if "refused" in text:
            verdict = "refused"
        elif "reloaded" in text:
            verdict = "reloaded"
        elif not lab.gateway.alive():
            break
        time.sleep(0.2)
    if not lab.gateway.alive():
        lab.check_alive(record, f"on a reload ({label})")
        return
    if expect_ok and verdict == "refused":
        record.problem(f"a valid config was refused on reload ({label}): {lab.gateway.log_tail(1, offset)}")
    elif not expect_ok and verdict == "reloaded":
        record.problem(f"an invalid config was accepted on reload ({label})")
    elif not verdict:
        record.note(f"no 'reloaded' or 'refused' in the log within {wait:g} s of SIGHUP ({label})")


def reload_valid(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """SIGHUP under load with one valid change."""
    assert lab.config
    new, what = valid_change(lab.config, lab.base_rate, rng)
    record.detail = what
    lab.write_config(new)
    _reload_and_check(lab, record, True, what)
    lab.recover(record, what="after a valid reload")


def reload_invalid(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """SIGHUP under load with an invalid config: it must be refused while delivery goes on; then a valid one."""
    assert lab.config and lab.consumer
    kind = rng.choice(INVALID_KINDS)
    record.detail = kind
    good = lab.config
    lab.write_config(raw=invalid_config(kind, good, lab.workdir))
    before = lab.consumer.new_count()
    _reload_and_check(lab, record, False, kind, wait=6.0)
    time.sleep(2.0)
    delivered = lab.consumer.new_count() - before
    if lab.gateway and lab.gateway.alive() and delivered == 0:
        record.note(f"no event delivered in the seconds after the refused reload ({kind})")
    lab.write_config(good)
    _reload_and_check(lab, record, True, "the valid config again")
    lab.recover(record, what=f"after an invalid reload ({kind})")


def replay_storm(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Several large replays while live events flow."""
    storm = storm_start(lab, rng, record)
    storm_finish(lab, storm, record)
    lab.recover(record, what="after a replay storm")


def storm_reload(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """A replay storm, and a valid reload that restarts the broker link in the middle of it."""
    assert lab.config and lab.consumer
    storm = storm_start(lab, rng, record)
    time.sleep(rng.uniform(0.5, 3.0))
    new = replace(lab.config, keepalive_s=5 if lab.config.keepalive_s != 5 else 6)
    since = now()
    lab.write_config(new)
    _reload_and_check(lab, record, True, "link change during a replay storm")
    storm_finish(lab, storm, record)
    reasons = [str(s.get("reason")) for s in lab.consumer.states_since(since) if s.get("online") is False]
    if reasons:
        record.note(f"offline states seen: {', '.join(reasons)}")
    if "connection lost" in reasons:
        record.problem("a reload during a replay published the will 'connection lost', not 'reconfiguring'")
    lab.recover(record, what="after a reload during a replay storm")


def broker_and_gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """kill -9 the broker, then the daemon while the broker is down; broker back first, then the daemon."""
    assert lab.broker and lab.gateway and lab.consumer
    gap, down = rng.uniform(0.5, 2.0), rng.uniform(0.5, 3.0)
    record.detail = f"daemon killed {gap:.1f} s into a {gap + down:.1f} s broker outage"
    lab.fault_begin("broker+gateway-kill")
    lab.broker.stop()
    time.sleep(gap)
    lab.gateway.kill9()
    time.sleep(down)
    lab.broker.start()
    lab.gateway.start()
    lab.fault_end()
    if not lab.consumer.wait_connected(15):
        record.problem("the consumer did not reconnect to the restarted broker within 15 s")
    lab.recover(record, what="after the broker and the daemon restarted")


def cut_and_gateway_kill(lab: Lab, rng: random.Random, record: RoundRecord) -> None:
    """Cut the network (link down, or a black hole), kill -9 the daemon, start it while cut, then heal."""
    assert lab.gateway and lab.proxy
    hold = rng.uniform(2.0, 6.0)
    how = "link down" if lab.netns else "black hole"
    record.detail = f"{how}; daemon restarted while cut; healed after {hold:.1f} s"
    lab.fault_begin("cut+gateway-kill")
    if lab.netns:
        lab.netns.down()
    else:
        lab.proxy.blackhole()
    time.sleep(rng.uniform(0.5, 2.0))
    lab.gateway.kill9()
    lab.gateway.start()
    time.sleep(hold)
    if lab.netns:
        lab.netns.up()
    else:
        lab.proxy.heal()
    lab.fault_end()
    lab.recover(record, what="after a restart while the network was cut")


FAULTS: dict[str, tuple[Fault, str | None]] = {
    "gateway-kill": (gateway_kill, None),
    "broker-kill": (broker_kill, None),
    "blackhole": (blackhole, None),
    "reset": (reset, None),
    "partition": (partition, "partition"),
    "disk-full": (disk_full, "disk-full"),
    "reload": (reload_valid, None),
    "reload-invalid": (reload_invalid, None),
    "replay-storm": (replay_storm, None),
    "storm+reload": (storm_reload, None),
    "broker+gateway-kill": (broker_and_gateway_kill, None),
    "cut+gateway-kill": (cut_and_gateway_kill, None),
}
"""Fault name -> (function, what it needs: None, "partition" (namespaces) or "disk-full" (tmpfs))."""


def clear_all(lab: Lab) -> None:
    """Undo any fault still in place: broker up, proxy forwarding, link up, disk large, valid config."""
    if lab.broker is not None and (lab.broker.process is None or lab.broker.process.poll() is not None):
        lab.broker.process = None
        lab.broker.start()
    if lab.proxy is not None and lab.proxy.blackholed:
        lab.proxy.heal()
    if lab.netns is not None:
        lab.netns.up()
    if lab.tmpfs is not None:
        lab.tmpfs.resize(lab.tmpfs.size_kb)
    if lab.config is not None:
        lab.write_config(lab.config)
    lab.fault_end()
