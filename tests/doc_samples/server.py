"""A loopback HTTP server that answers with the vendor docs' sample payloads.

Each vendor's module maps (method, path) to a handler that returns the doc's
sample as printed; the server adds nothing of its own beyond the status line,
`Content-Type` and `Content-Length`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

DOCS = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-docs"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Answer:
    body: str | bytes
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Answer]


class DocSampleServer:
    """Serves `routes` on 127.0.0.1 until closed; every request is recorded in `requests`."""

    def __init__(self, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.routes = dict(routes)
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="doc-sample-server", daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> DocSampleServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class DocSampleHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Without it keep-alive answers stall 40 ms each (Nagle's algorithm).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path,
                                  {name: values[-1] for name, values in parse_qs(parts.query).items()},
                                  dict(self.headers), self.rfile.read(length) if length else b"")
                server.requests.append(request)
                handler = server.routes.get((self.command, parts.path))
                answer = handler(request) if handler else Answer('{"error": "not found"}', 404)
                body = answer.body.encode() if isinstance(answer.body, str) else answer.body
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        return DocSampleHandler


def doc_text(name: str) -> str:
    """A vendor doc as printed."""
    return (DOCS / name).read_text(encoding="utf-8")


def printed_in(sample: str, doc: str) -> bool:
    """Whether `sample` appears in `doc` as printed, whitespace aside (page breaks reflow it)."""
    return "".join(sample.split()) in "".join(doc.split())
