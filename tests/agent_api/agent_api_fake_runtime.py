"""A small fake SageMaker runtime: a real HTTP server on 127.0.0.1 answering
`POST /endpoints/{name}/invocations-response-stream` with genuine AWS event-stream frames.

Each call consumes the next scripted `Reply` (the last one repeats). Bodies come from the recorded fixtures.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.emulator.eventstream import payload_part

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sse_parts(body: bytes) -> list[bytes]:
    """Split an SSE body into one payload part per event, as a server flushes them."""
    pieces = body.split(b"\n\n")
    parts = [piece + b"\n\n" for piece in pieces[:-1]]
    if pieces[-1]:
        parts.append(pieces[-1])
    return parts


def fixture_parts(relative: str) -> list[bytes]:
    """The payload parts of a recorded streaming body under tests/fixtures/."""
    return sse_parts((FIXTURES / relative).read_bytes())


def calculator_call_parts() -> list[bytes]:
    """The recorded vLLM tool-call stream, with the call aimed at our `calculator` tool instead of the
    recording's `get_weather` (only the name and argument text are rewritten; the framing is as recorded)."""
    body = (FIXTURES / "vllm/tools_auto_stream.txt").read_text()
    body = body.replace('"name":"get_weather"', '"name":"calculator"')
    body = body.replace('"arguments":"{\\"city\\": \\""', '"arguments":"{\\"expression\\": \\""')
    body = body.replace('"arguments":"Paris\\"}"', '"arguments":"6 * 7\\"}"')
    return sse_parts(body.encode())


@dataclass
class Stream:
    """Answer 200 with these payload parts; with `pause_after`, hold after that many until `resume` is set."""

    parts: list[bytes]
    pause_after: int | None = None
    resume: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass
class Throttle:
    """Answer SageMaker's throttling error."""


@dataclass
class ModelError:
    """Answer SageMaker's `ModelError`: the container replied `original_status` with `original_body`."""

    original_status: int
    original_body: str


Reply = Stream | Throttle | ModelError


class FakeSageMakerRuntime:
    """The server; `requests` holds the JSON bodies it received, in order."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeSageMakerRuntime:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for reply in self.replies:
            if isinstance(reply, Stream):
                reply.resume.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _next_reply(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.paths.append(path)
            self.requests.append(body)
            index = min(len(self.requests) - 1, len(self.replies) - 1)
            return self.replies[index]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                reply = fake._next_reply(self.path, body)
                if not self.path.endswith("/invocations-response-stream"):
                    self._send_error(404, "UnknownOperationException", {"message": "unexpected path"})
                elif isinstance(reply, Throttle):
                    self._send_error(400, "ThrottlingException", {"message": "Rate exceeded"})
                elif isinstance(reply, ModelError):
                    self._send_error(
                        424,
                        "ModelError",
                        {
                            "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
                            "Message": f"Received client error ({reply.original_status}) from primary "
                            f'with message "{reply.original_body}".',
                            "OriginalStatusCode": reply.original_status,
                            "OriginalMessage": reply.original_body,
                        },
                    )
                else:
                    self._send_stream(reply)

            def _send_error(self, status: int, error_type: str, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_stream(self, reply: Stream) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for index, part in enumerate(reply.parts):
                        if reply.pause_after is not None and index == reply.pause_after:
                            reply.resume.wait(timeout=30)
                        frame = payload_part(part)
                        self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    # The agent API hung up (its client disconnected): nothing left to send.
                    self.close_connection = True
                finally:
                    reply.finished.set()

        return Handler
