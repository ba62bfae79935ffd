"""A real HTTP server on 127.0.0.1 speaking the SageMaker runtime protocol, for boto3 to call.

Responses are genuine AWS event-stream frames (prelude, headers, CRCs) so botocore's own ``EventStream`` and
the sagemaker-runtime response parser decode them, exactly as they decode AWS's.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config

from local.emulator.eventstream import exception_event, payload_part


def stream_error(message: str, error_code: str = "ModelInvocationTimeExceeded") -> bytes:
    """A ``ModelStreamError`` exception message, as SageMaker ends a failed stream."""
    return exception_event("ModelStreamError", message, error_code)


@dataclass
class Reply:
    """One scripted answer: event-stream frames (streaming), a plain body, or an error."""

    parts: list[bytes] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    body: bytes | None = None
    status: int = 200
    error_type: str | None = None
    error: dict[str, Any] | None = None
    # Parts sent only once `gate` is set (or after 5 s); `released` records which happened.
    gated_parts: list[bytes] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    released: bool | None = None


class FakeEndpoint:
    """Serve scripted replies on 127.0.0.1; record the requests. Use as a context manager."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                reply = endpoint.replies.popleft()
                if reply.error_type is not None:
                    data = json.dumps(reply.error or {}).encode()
                    self.send_response(reply.status)
                    self.send_header("x-amzn-ErrorType", reply.error_type)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if reply.body is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                # Chunked, one frame per chunk, as SageMaker streams: the client sees each frame on arrival.
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for frame in [payload_part(p) for p in reply.parts] + reply.frames:
                    self._chunk(frame)
                if reply.gated_parts:
                    reply.released = reply.gate.wait(5)
                try:
                    for part in reply.gated_parts:
                        self._chunk(payload_part(part))
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, which some tests want

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self) -> Any:
        """A real boto3 sagemaker-runtime client pointed at this server, with dummy credentials."""
        session = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        return session.client(
            "sagemaker-runtime",
            endpoint_url=self.url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def __enter__(self) -> FakeEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
