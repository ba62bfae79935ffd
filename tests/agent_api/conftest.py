"""Agent API fixtures: dummy AWS credentials, a SageMaker runtime (the emulator in front of a scripted
container), moto S3, a real uvicorn server."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from agent_api.app import create_app
from agent_api.observability import logger
from agent_api.settings import Settings
from tests.agent_api.harness import FAST_RETRIES, Harness, HarnessFactory, serve
from tests.agent_api.mcp_support import StartServer
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Step


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
    return Settings.from_env({"AGENT_ENDPOINT_NAME": ENDPOINT, "AWS_REGION": "us-east-1"})


@pytest.fixture
def harness(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[HarnessFactory]:
    """`harness(steps, boto_session=None, **settings_overrides)` starts a SageMaker runtime scripted with
    `steps` and the app under uvicorn (its AWS clients made from `boto_session` when given)."""
    with ExitStack() as stack:

        def start(
            steps: list[Step], *, boto_session: boto3.Session | None = None, **overrides: Any
        ) -> Harness:
            runtime = stack.enter_context(SageMakerRuntime(*steps))
            monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
            app = create_app(
                replace(settings, **overrides), boto_session=boto_session, retry_policy=FAST_RETRIES
            )
            base_url = stack.enter_context(serve(app))
            client = stack.enter_context(httpx.Client(base_url=base_url, timeout=30))
            return Harness(client, runtime)

        yield start


@pytest.fixture
def mcp() -> Iterator[StartServer]:
    """``mcp(server)`` starts an MCP server (tests/support/mcp_servers.py) until the end of the test."""
    with ExitStack() as stack:
        yield stack.enter_context


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the JSON log handler writes (to stdout in Lambda)."""
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream
