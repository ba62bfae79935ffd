"""Runs the agent API under a real uvicorn server and calls it the way clients do."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from httpx_sse import ServerSentEvent, connect_sse
from starlette.applications import Starlette

from agent_api.agent_factory import RetryPolicy
from agent_api.http_protocol import JsonErrorHttpToolsProtocol
from tests.support.sagemaker_runtime import SageMakerRuntime

# Retries without sleeping, so throttling tests stay fast; the production policy is tested on its own.
FAST_RETRIES = RetryPolicy(max_attempts=2, initial_delay_seconds=0, max_delay_seconds=0)


def raw_exchange(base_url: str, request: bytes) -> bytes:
    """Send `request` as raw bytes on a new connection; return all the server answered before closing."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` under a real uvicorn server on 127.0.0.1; yields its base URL."""
    # With the protocol given, asyncio sets TCP_NODELAY on accepted connections (as under `uvicorn --port`);
    # without it, Nagle's algorithm holds each stream's first event for a delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The protocol lambda/run.sh runs uvicorn with; the app's lifespan runs, as under `uvicorn` (its MCP
    # server's transport lives in it).
    config = uvicorn.Config(
        app, http=JsonErrorHttpToolsProtocol, lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Harness:
    """A running app wired to a SageMaker runtime (the emulator and a scripted container), plus helpers to
    call it."""

    def __init__(self, client: httpx.Client, runtime: SageMakerRuntime) -> None:
        self.client = client
        self.runtime = runtime

    def post(self, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return self.client.post("/chat", **kwargs)

    def chat(self, body: dict[str, Any]) -> list[ServerSentEvent]:
        """POST /chat and parse the stream with an SSE client library."""
        with connect_sse(self.client, "POST", "/chat", json=body) as source:
            source.response.raise_for_status()
            return list(source.iter_sse())

    def leave_once_the_model_is_called(self, body: dict[str, Any]) -> None:
        """POST /chat on a connection of its own and close it as soon as the model was called (before any
        event could arrive)."""
        content = json.dumps(body).encode()
        host, port = str(self.client.base_url).removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(content), content)
            )
            wait_until(lambda: bool(self.runtime.requests))


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {condition}")
        time.sleep(0.02)


HarnessFactory = Callable[..., Harness]


def json_lines(output: str) -> list[dict[str, Any]]:
    """The JSON objects among `output`'s lines: log records and EMF metric documents (what Lambda logs)."""
    lines = []
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def total(document: dict[str, Any], name: str) -> float:
    """The sum of metric `name`'s values in one EMF document (one value, or a list of them)."""
    values = document[name]
    return float(sum(values)) if isinstance(values, list) else float(values)
