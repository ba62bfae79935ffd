"""A stand-in agent API for the client: a real HTTP server on 127.0.0.1 that records requests and answers a
scripted response, encoded with the agent API's own SSE encoder."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_api.sse import encode_event


@dataclass
class Answer:
    """The scripted answer: a status, a content type and body pieces (sent as separate chunks)."""

    status: int = 200
    content_type: str = "text/event-stream"
    pieces: list[bytes] = field(default_factory=list)
    pause_after: int | None = None
    resume: threading.Event = field(default_factory=threading.Event)


def events(*items: tuple[str, dict[str, Any]]) -> list[bytes]:
    return [encode_event(name, data) for name, data in items]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class FakeApi:
    def __init__(self) -> None:
        self.answer = Answer()
        self.received: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.answer.resume.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.received.append(Received(self.path, dict(self.headers.items()), body))
                answer = fake.answer
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for index, piece in enumerate(answer.pieces):
                    if index == answer.pause_after:
                        answer.resume.wait(timeout=30)
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        return Handler
