"""The bot's line to the browser's DevTools port: a loopback TCP relay through `docker exec`.

Chromium's DevTools endpoint listens on the browser container's own loopback (127.0.0.1:9222) only: no
network interface of the container answers on it, so the app under test (on the same Docker network) can
never drive the browser, and the bot needs no route to the container's network (it works the same when the
bot itself runs in a container with the Docker socket).

Playwright connects to `http://127.0.0.1:<port>` on the bot's side; every TCP connection accepted there is
one `docker exec` in the browser container, as the unprivileged user, of a few lines of Python that pipe the
exec's stdin/stdout to 127.0.0.1:9222. (Chromium builds the WebSocket URL it hands out from the request's
Host header, so the URL Playwright follows points at this relay again.)

Decisions:
- `stop_accepting()` is called as soon as Playwright is connected (it needs two connections: the
  `/json/version` request and the WebSocket): later local connections are refused, so another process on
  the bot's machine cannot attach to a browser in use.
- Plain threads, not the event loop: the exec stream is a blocking Docker socket, and a long-lived CDP
  connection must not hold one of asyncio's default executor threads.
- The exec's output is multiplexed (8-byte frame headers; TTY is off so bytes pass unchanged): stdout is
  forwarded, stderr dropped.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any

import docker

CDP_PORT = 9222
_FRAME = struct.Struct(">BxxxL")

#: runs in the browser container: stdin -> 127.0.0.1:9222 -> stdout (waits up to 20 s for the port)
RELAY_SCRIPT = f"PORT = {CDP_PORT}\n" + """
import os, socket, sys, threading, time
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.create_connection(("127.0.0.1", PORT))
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
def up():
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while True:
    data = s.recv(65536)
    if not data:
        break
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
"""


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf.extend(chunk)
    return bytes(buf)


class CdpRelay:
    def __init__(self, client: docker.DockerClient, container_id: str, user: str) -> None:
        self._api = client.api
        self._container = container_id
        self._user = user
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._accepting = True
        self._closed = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="cdp-relay", daemon=True).start()

    def stop_accepting(self) -> None:
        self._accepting = False

    def close(self) -> None:
        """Refuse new connections and cut the open ones (the browser container is going away)."""
        self._accepting, self._closed = False, True
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        try:
            while self._accepting:
                try:
                    conn, _addr = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not self._accepting:
                    conn.close()
                    return
                threading.Thread(target=self._serve, args=(conn,), name="cdp-relay-conn", daemon=True).start()
        finally:
            self._listener.close()

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._open.update(socks)
            return True

    def _serve(self, conn: socket.socket) -> None:
        try:
            exec_id = self._api.exec_create(self._container, ["python3", "-c", RELAY_SCRIPT], stdin=True,
                                            stdout=True, stderr=True, tty=False, user=self._user)["Id"]
            stream: Any = self._api.exec_start(exec_id, socket=True)
        except Exception:
            conn.close()
            return
        upstream: socket.socket = getattr(stream, "_sock", stream)
        upstream.settimeout(None)
        if not self._track(conn, upstream):
            conn.close()
            upstream.close()
            return
        threading.Thread(target=self._pump_up, args=(conn, upstream), daemon=True).start()
        self._pump_down(upstream, conn)

    @staticmethod
    def _pump_up(conn: socket.socket, upstream: socket.socket) -> None:
        """Playwright -> exec stdin; its end closes the exec's stdin (the relay then closes its side)."""
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _pump_down(self, upstream: socket.socket, conn: socket.socket) -> None:
        """exec stdout (framed) -> Playwright."""
        try:
            while (header := _recv_exact(upstream, _FRAME.size)) is not None:
                kind, length = _FRAME.unpack(header)
                payload = _recv_exact(upstream, length) if length else b""
                if payload is None:
                    break
                if kind == 1:
                    conn.sendall(payload)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
                self._open.discard(upstream)
            for sock in (conn, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
