"""The one HTTP server behind every test fake: a real server on 127.0.0.1 that answers a script of replies.

It stands in for a model container (it speaks the container contract: ``GET /ping`` answers 200, any other
GET or POST takes the next scripted reply, ``POST /invocations`` included) and for the agent API in the
client's tests. It writes each reply's chunks as they are scripted (chunked transfer encoding, one write per
chunk, optionally holding after some of them until released, or breaking the connection off) and records
every request it answers.

A test can also run it in a subprocess, with ``serve_forever``.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.emulator.background import BackgroundServer

PING_PATH = "/ping"


@dataclass(eq=False)
class Reply:
    """One scripted answer: status, headers and the body as the chunks it is written in."""

    chunks: list[bytes] = field(default_factory=list)
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = True
    """Chunked transfer encoding, one chunk per piece (else one body with a Content-Length)."""
    pause_after: int | None = None
    """After writing this many chunks, wait until ``resume`` is set (at most ``pause_timeout`` seconds)."""
    pause_timeout: float = 30.0
    break_after: int | None = None
    """After writing this many chunks (and any pause), close the connection without ending the body."""
    resume: threading.Event = field(default_factory=threading.Event)
    resumed: bool | None = None
    """Set by the server at the pause: True once ``resume`` was set, False if the pause timed out."""
    finished: threading.Event = field(default_factory=threading.Event)
    """Set by the server when it is done with this reply (all written, broken off, or the client gone)."""

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(frozen=True)
class Request:
    """One request the server answered from its script."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float = field(default_factory=time.monotonic)
    """When its body had been read (``time.monotonic``)."""


class ScriptedServer(BackgroundServer):
    """Answer each request with the next reply of ``script`` (the last one repeats); record it in
    ``received``. Without a script, every request gets ``200 {"ok": true}``.

    A context manager (or ``start``/``stop``) serving from a thread; ``stop`` releases every paused reply.
    """

    def __init__(self, *script: Reply, host: str = "127.0.0.1", port: int = 0) -> None:
        self.script: list[Reply] = list(script) or [Reply([b'{"ok": true}'], chunked=False)]
        self.received: list[Request] = []
        self._lock = threading.Lock()
        super().__init__(_Server((host, port), self), "scripted-server")

    @property
    def reply(self) -> Reply:
        """The reply of a script of one: every request gets it."""
        [reply] = self.script
        return reply

    @reply.setter
    def reply(self, reply: Reply) -> None:
        self.script = [reply]

    def stop(self) -> None:
        for reply in self.script:
            reply.resume.set()
        super().stop()

    def _take(self, request: Request) -> Reply:
        with self._lock:
            self.received.append(request)
            return self.script[min(len(self.received), len(self.script)) - 1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many concurrent streams (the agent API's concurrency tests) must not overflow the accept queue.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], scripted: ScriptedServer) -> None:
        self.scripted = scripted
        super().__init__(address, _Handler)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # A client that hangs up or stops reading ends its reply (some tests do it on purpose); anything
        # else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Each chunk is a write of its own: without TCP_NODELAY, Nagle's algorithm and the client's delayed ACK
    # would hold small chunks back (~40 ms), so timings would depend on the kernel, not on the script.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == PING_PATH:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = self.server.scripted._take(Request(self.command, self.path, dict(self.headers.items()), body))
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        try:
            self._write_body(reply)
        finally:
            reply.finished.set()

    def _write_body(self, reply: Reply) -> None:
        for index in range(len(reply.chunks) + 1):
            if index == reply.pause_after:
                reply.resumed = reply.resume.wait(reply.pause_timeout)
            if index == reply.break_after:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if index == len(reply.chunks):
                break
            chunk = reply.chunks[index]
            if not reply.chunked:
                self.wfile.write(chunk)
            elif chunk:  # an empty chunk would end the body
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
