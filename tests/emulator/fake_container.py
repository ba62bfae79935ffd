"""A fake model container (a stdlib HTTP server replaying recorded bodies) and boto3 helpers."""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ENDPOINT = "tiny-endpoint"


@dataclass
class Reply:
    """What the fake container answers: status, content type and the body as the chunks it sends."""

    chunks: list[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = True
    """Send the chunks with chunked transfer encoding (else one body with a Content-Length)."""
    chunk_delay: float = 0.0
    stall_after: int | None = None
    """After sending this many chunks, wait this long without sending (then close)."""
    stall_seconds: float = 0.0
    break_after: int | None = None
    """After sending this many chunks, close the socket without ending the chunked body."""

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


def sse_chunks(body: bytes) -> list[bytes]:
    """Split a body the way a streaming server sends it: one chunk per SSE event or JSON line."""
    separator = b"\n\n" if b"\n\n" in body else b"\n"
    pieces = body.split(separator)
    chunks = [piece + separator for piece in pieces[:-1]]
    if pieces[-1]:
        chunks.append(pieces[-1])
    return chunks


def fixture_reply(framework: str, case: str) -> Reply:
    """Return the recorded answer of ``framework``'s ``case`` as the fake container's reply."""
    folder = FIXTURES / framework
    if framework == "vllm":
        body = (folder / f"{case}.txt").read_bytes()
        head = (folder / f"{case}.headers.txt").read_text().splitlines()
        status = int(head[0].split()[1])
        content_types = [line.split(":", 1)[1].strip() for line in head if line.startswith("content-type:")]
        content_type = content_types[0] if content_types else "application/octet-stream"
    else:
        body = (folder / f"{case}.body").read_bytes()
        http = json.loads((folder / f"{case}.http.json").read_text())
        status = http.get("status", http.get("http_status"))
        content_type = http.get("content-type", http.get("content_type"))
    chunks = sse_chunks(body)
    return Reply(
        chunks=chunks, status=status, content_type=content_type, chunked=status == 200 and len(chunks) > 1
    )


class FakeContainer:
    """A container-contract server on 127.0.0.1 that answers every POST with ``reply`` and records it."""

    def __init__(self) -> None:
        self.reply = Reply(chunks=[b'{"ok": true}'], chunked=False)
        self.received: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        container = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                container.received.append(Received(self.path, dict(self.headers.items()), body))
                reply = container.reply
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if not reply.chunked:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                # The emulator stops reading on purpose after an injected stream error.
                with contextlib.suppress(ConnectionError):
                    self._send_chunks(reply)

            def _send_chunks(self, reply: Reply) -> None:
                for index, chunk in enumerate(reply.chunks):
                    if index == reply.break_after:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if index == reply.stall_after:
                        time.sleep(reply.stall_seconds)
                        return
                    if index and reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        return Handler


def make_client(url: str, **config: Any) -> Any:
    """Return a real boto3 sagemaker-runtime client for ``url`` with dummy credentials."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config),
    )


def collect_stream(response: dict[str, Any]) -> list[bytes]:
    """Return the ``PayloadPart`` bytes of a response stream, as botocore parsed them."""
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]
