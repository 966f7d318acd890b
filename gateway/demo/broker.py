"""Find a broker for the demo: the configured one if it answers, else mosquitto, else an embedded one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from gateway.cli.errors import CliError

log = logging.getLogger("storegw.demo")


def _free_port() -> int:
    """A loopback port nobody uses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if an MQTT broker accepts a CONNECT on host:port."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        client_id = b"storegw-demo-probe"
        body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
        writer.write(bytes([0x10, len(body)]) + body)  # CONNECT, MQTT 3.1.1, clean session
        await writer.drain()
        connack = await asyncio.wait_for(reader.readexactly(4), timeout)
        writer.write(b"\xe0\x00")  # DISCONNECT
        return connack[0] == 0x20 and connack[3] == 0
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()


async def _wait_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on the loopback port."""
    for _ in range(int(timeout / 0.1)):
        if await _answers("127.0.0.1", port, 0.5):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the demo broker did not come up on port {port}")


async def start_broker(stack: contextlib.AsyncExitStack, host: str, port: int) -> tuple[str, str]:
    """Return (url, description) of a broker to use, starting one if needed."""
    if await _answers(host, port):
        return f"mqtt://{host}:{port}", f"the broker at {host}:{port}"
    free = _free_port()
    mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if mosquitto and not os.environ.get("STOREGW_NO_MOSQUITTO"):
        workdir = Path(tempfile.mkdtemp(prefix="storegw-demo-mosq-"))
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {free} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        process = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)

        def stop() -> None:
            """Stop the broker process."""
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

        stack.callback(stop)
        await _wait_port(free)
        return f"mqtt://127.0.0.1:{free}", f"mosquitto started on 127.0.0.1:{free}"
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise CliError(f"no MQTT broker answers at {host}:{port}, mosquitto is not installed and neither is the "
                       "embedded broker: install mosquitto (apt-get install mosquitto) or storegw[demo] "
                       "(pip install 'storegw[demo]')") from None
    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{free}"}},
                     "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}})
    await broker.start()
    stack.push_async_callback(broker.shutdown)
    await _wait_port(free)
    return f"mqtt://127.0.0.1:{free}", f"the embedded Python broker on 127.0.0.1:{free}"
