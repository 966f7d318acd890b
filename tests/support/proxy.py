"""A small TCP proxy that can black-hole its connections (bytes stop, sockets stay open)."""

from __future__ import annotations

import socket
import threading

from tests.support.broker import free_port


class BlackholeProxy:
    """Forwards 127.0.0.1:port to a target; ``blackhole()`` silently stops every current connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.connections: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        """Accept clients and pump each direction on its own thread."""
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            state: dict[str, object] = {"dead": False, "sockets": (client, upstream)}
            with self.lock:
                self.connections.append(state)
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, state), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, state: dict[str, object]) -> None:
        """Copy bytes until either side closes; drop them once black-holed."""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                if not state["dead"]:
                    for sock in state["sockets"]:  # type: ignore[attr-defined]
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                return
            if state["dead"]:
                continue  # swallowed: the peer never hears of it, and no FIN or RST is sent
            try:
                dst.sendall(data)
            except OSError:
                return

    def blackhole(self) -> None:
        """From now on, every existing connection silently loses all its bytes."""
        with self.lock:
            for state in self.connections:
                state["dead"] = True

    def close(self) -> None:
        """Stop accepting and close everything."""
        self.server.close()
        with self.lock:
            for state in self.connections:
                for sock in state["sockets"]:  # type: ignore[attr-defined]
                    try:
                        sock.close()
                    except OSError:
                        pass
