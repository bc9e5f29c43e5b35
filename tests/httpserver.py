"""A real HTTP server on loopback publishing certificates by path, as a CA's
AIA "CA Issuers" URL does. Used by the AIA tests and the scan benchmark."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from tests.tlsserver import TLSServer


class CertHTTPServer:
    """Serves ``files`` (path → DER) with 200, anything else with 404.

    Attributes:
        files: may be replaced between requests.
        requests: GET requests answered so far.
    """

    def __init__(self, files: dict[str, bytes], host: str = "127.0.0.1", port: int = 0) -> None:
        self.files = dict(files)
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                outer.requests += 1
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-cert")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TextHTTPServer(CertHTTPServer):
    """Answers every path with one body and status: an internal page, an error."""

    def __init__(self, body: bytes, *, status: int = 200, content_type: str = "text/html") -> None:
        super().__init__({})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                outer.requests += 1
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server.RequestHandlerClass = Handler


class Tarpit:
    """A TCP listener that accepts connections and never answers: the slowest issuer URL.

    Attributes:
        connections: connections accepted so far.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.bind((host, 0))
        self._sock.listen(128)
        self.host = host
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)  # kept open, never read from or written to

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tarpit_host(tarpit: Tarpit, host: str, *, count: int, urls: int) -> list[TLSServer]:
    """``count`` TLS servers on 127.0.0.2… (one port), each serving its own leaf for
    ``host`` whose issuer is not served and whose ``urls`` AIA URLs lead to ``tarpit``.

    Started; the caller stops them.
    """
    from tests import pki
    from tests.tlsserver import TLSServer

    inter = pki.intermediate("Tarpit CA", pki.root("Tarpit Root"))
    servers: list[TLSServer] = []
    for i in range(count):
        address = f"127.0.0.{i + 2}"
        leaf = pki.leaf(
            host,
            inter,
            key=pki.key_for(f"tarpit-{i}"),
            aia=[tarpit.url(f"/{address}/{n}.der") for n in range(urls)],
        )
        port = servers[0].port if servers else 0
        servers.append(TLSServer([leaf.der], leaf.key, host=address, port=port).start())
    return servers


class HookReceiver:
    """A real HTTP server that records every POST (a webhook, chat or ntfy receiver).

    Attributes:
        answers: status codes to answer with, in turn (the last one repeats).
        delay: seconds to wait before answering (a slow receiver).
        received: (path, headers, body) of every request, oldest first.
    """

    def __init__(self, host: str = "127.0.0.1", answers: tuple[int, ...] = (200,)) -> None:
        self.answers = list(answers)
        self.delay = 0.0
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1_000_000))
                with outer._lock:
                    outer.received.append((self.path, dict(self.headers.items()), body))
                    status = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                if outer.delay:
                    import time

                    time.sleep(outer.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://{outer.host}:{outer.port}/redirected")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def wait_for(
        self, count: int, timeout: float = 30.0
    ) -> list[tuple[str, dict[str, str], bytes]]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
