"""A real nats-server for tests: JetStream and its MQTT listener (MQTT 3.1.1 only), on free loopback ports.

One node::

    server = NatsServer().start()          # server.url is mqtt://127.0.0.1:<mqtt_port>
    ...
    server.stop()                          # SIGKILL, as a crash; start() again keeps ports and JetStream data

A cluster (every node its own ports and store, all routes known up front)::

    nodes = nats_cluster(3)                # started, and each answers an MQTT CONNECT
    [node.url for node in nodes]           # a failover list for mqtt.urls

NATS keeps MQTT sessions and retained messages in JetStream, so each server needs a ``server_name``
and JetStream; in a cluster the MQTT streams are replicated, and a node answers MQTT only once the
cluster has a JetStream leader: ``wait_ready`` waits for a real CONNACK, not just an open port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.support.broker import free_port, wait_port


def nats_binary() -> str | None:
    """Path of nats-server, if installed (Debian's package puts it in /usr/sbin)."""
    return shutil.which("nats-server") or (os.path.exists("/usr/sbin/nats-server") and "/usr/sbin/nats-server") or None


@dataclass
class NatsServer:
    """One nats-server process with JetStream and an MQTT listener; a cluster node when ``cluster_name`` is set.

    ``routes`` are the other nodes' ``route_url``s; give a node's ``cluster_port`` up front (see nats_cluster)
    so every node can name every other before any starts.
    """

    server_name: str = field(default_factory=lambda: f"storegw-test-{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    """The NATS client port (nobody in the tests uses it, but nats-server always listens on one)."""
    mqtt_port: int = field(default_factory=free_port)
    cluster_name: str | None = None
    cluster_port: int = field(default_factory=free_port)
    """Where the other nodes' routes connect; used only with ``cluster_name``."""
    routes: list[str] = field(default_factory=list)
    mqtt_replicas: int | None = None
    """mqtt.stream_replicas: the replicas of the MQTT streams (sessions, retained, QoS 1). None: the server's
    choice, which in a 3-node cluster can be 2, and a 2-replica stream stops with one node gone."""
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="storegw-nats-"))
    process: subprocess.Popen[bytes] | None = None
    extra_config: str = ""
    """More top-level config appended as is (e.g. an ``authorization`` block)."""
    ready_credentials: tuple[str, str] | None = None
    """(username, password) that wait_ready's CONNECT uses, for a server that refuses anonymous clients."""

    @property
    def url(self) -> str:
        """The MQTT URL of this node (for mqtt.url or mqtt.urls; set mqtt.protocol = "3.1.1")."""
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def route_url(self) -> str:
        """What the other nodes of its cluster put in their ``routes``."""
        return f"nats-route://127.0.0.1:{self.cluster_port}"

    @property
    def log_path(self) -> str:
        """The server's log (stderr), kept across restarts."""
        return os.path.join(self.workdir, "log")

    def config_text(self) -> str:
        """The server's config: loopback only, no auth, JetStream in the workdir, MQTT on, the cluster if any."""
        store = os.path.join(self.workdir, "jetstream")
        lines = [f'server_name: "{self.server_name}"', f'listen: "127.0.0.1:{self.port}"',
                 f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 1GB }}',
                 f'mqtt {{ host: "127.0.0.1", port: {self.mqtt_port}'
                 + (f", stream_replicas: {self.mqtt_replicas}" if self.mqtt_replicas else "") + " }"]
        if self.cluster_name:
            routes = ", ".join(f'"{route}"' for route in self.routes)
            lines.append(f'cluster {{ name: "{self.cluster_name}", listen: "127.0.0.1:{self.cluster_port}", '
                         f"routes: [{routes}] }}")
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def start(self, ready_timeout: float = 30.0) -> NatsServer:
        """Start the server; a single node is waited for until it accepts MQTT, a cluster node is not (wait_ready)."""
        binary = nats_binary()
        if binary is None:
            raise RuntimeError("nats-server is not installed (apt-get install nats-server)")
        conf = os.path.join(self.workdir, "nats.conf")
        with open(conf, "w") as handle:
            handle.write(self.config_text())
        self.process = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                                        stderr=open(self.log_path, "ab"))  # noqa: SIM115
        if self.cluster_name:
            return self  # its MQTT port opens only once the cluster has a JetStream leader: see wait_ready
        try:
            wait_port(self.mqtt_port, ready_timeout)
            self.wait_ready(ready_timeout)
        except (TimeoutError, AssertionError):
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until an MQTT 3.1.1 CONNECT is accepted (JetStream ready); AssertionError with the log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            if self._accepts_mqtt():
                return
            time.sleep(0.2)
        raise AssertionError(f"nats-server {self.server_name} does not accept MQTT after {timeout} s; log:\n"
                             + self.log()[-3000:])

    def _accepts_mqtt(self) -> bool:
        """One MQTT 3.1.1 CONNECT; True if accepted within 2 s."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        accepted = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ready-{uuid.uuid4().hex[:8]}",
                             protocol=paho.MQTTv311)
        client.on_connect = lambda c, u, f, rc, p: rc.is_failure or accepted.set()
        if self.ready_credentials:
            client.username_pw_set(*self.ready_credentials)
        try:
            client.connect("127.0.0.1", self.mqtt_port, 10)
            client.loop_start()
            accepted.wait(2)
        except OSError:
            pass
        finally:
            client.disconnect()
            client.loop_stop()
        return accepted.is_set()

    def log(self) -> str:
        """Everything the server logged so far."""
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server as a crash would (SIGKILL); its ports and JetStream store stay for start()."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        """Stop the server and delete its workdir (JetStream store, config, log)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def nats_cluster(size: int = 3, name: str | None = None, ready_timeout: float = 60.0,
                 mqtt_replicas: int | None = None) -> list[NatsServer]:
    """``size`` nodes of one cluster, each routed to all others, started and each answering MQTT."""
    cluster = name or f"storegw-test-{uuid.uuid4().hex[:6]}"
    nodes = [NatsServer(server_name=f"{cluster}-n{index + 1}", cluster_name=cluster, mqtt_replicas=mqtt_replicas)
             for index in range(size)]
    for node in nodes:
        node.routes = [other.route_url for other in nodes if other is not node]
    try:
        for node in nodes:
            node.start(ready_timeout)
        for node in nodes:
            node.wait_ready(ready_timeout)
    except BaseException:
        for node in nodes:
            node.remove()
        raise
    return nodes
