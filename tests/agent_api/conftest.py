"""Agent API fixtures: dummy AWS credentials, a fake SageMaker runtime, moto S3, a real uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
from fake_sagemaker import FakeSageMakerRuntime, Reply
from httpx_sse import ServerSentEvent, connect_sse
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette

from agent_api.agent_factory import RetryPolicy
from agent_api.app import create_app
from agent_api.settings import Settings

# Retries without sleeping, so throttling tests stay fast; the production policy is tested on its own.
FAST_RETRIES = RetryPolicy(max_attempts=2, initial_delay_seconds=0, max_delay_seconds=0)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no real endpoints: nothing here may reach AWS."""
    for name in list(os.environ):
        if name.startswith(("AGENT_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sessions_bucket(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with S3 redirected there."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    name = f"sessions-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({"AGENT_ENDPOINT_NAME": "test-endpoint", "AWS_REGION": "us-east-1"})


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` under a real uvicorn server on 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
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
    """A running app wired to a fake SageMaker runtime, plus helpers to call it."""

    def __init__(self, base_url: str, runtime: FakeSageMakerRuntime) -> None:
        self.runtime = runtime
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def post(self, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return self.client.post("/chat", **kwargs)

    def chat(self, body: dict[str, Any]) -> list[ServerSentEvent]:
        """POST /chat and parse the stream with an SSE client library."""
        with connect_sse(self.client, "POST", "/chat", json=body) as source:
            source.response.raise_for_status()
            return list(source.iter_sse())


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def harness(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[HarnessFactory]:
    """`harness(replies, **settings_overrides)` starts the fake runtime and the app under uvicorn."""
    with_stack: list[Any] = []

    def start(replies: list[Reply], **overrides: Any) -> Harness:
        runtime = FakeSageMakerRuntime(replies).__enter__()
        with_stack.append(runtime)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
        app = create_app(replace(settings, **overrides), retry_policy=FAST_RETRIES)
        server = serve(app)
        base_url = server.__enter__()
        with_stack.append(server)
        instance = Harness(base_url, runtime)
        with_stack.append(instance.client)
        return instance

    yield start
    for item in reversed(with_stack):
        if isinstance(item, httpx.Client):
            item.close()
        else:
            item.__exit__(None, None, None)
