"""Cold start: configuration errors fail at start naming the variable; the retry budget fits the timeout."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
from strands.types.exceptions import ModelThrottledException

from agent_api.agent_factory import AgentFactory, RetryPolicy, create_runtime_client
from agent_api.app import create_app
from agent_api.contract import RETRY_BACKOFF_BUDGET_SECONDS
from agent_api.settings import Settings, SettingsError
from agent_api.validation import TurnRequest
from sagemaker_provider.transport import create_client
from tests.agent_api.harness import raw_exchange, serve
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import SageMakerRuntime, Stream, Throttle

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"


def test_module_app_is_built_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_ENDPOINT_NAME", "my-endpoint")
    module = importlib.import_module("agent_api.app")
    monkeypatch.delitem(module.__dict__, "app", raising=False)
    assert module.app is module.app


def test_module_app_fails_naming_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_ENDPOINT_NAME", "my-endpoint")
    monkeypatch.setenv("AGENT_TEMPERATURE", "hot")
    module = importlib.import_module("agent_api.app")
    monkeypatch.delitem(module.__dict__, "app", raising=False)
    with pytest.raises(SettingsError, match="AGENT_TEMPERATURE"):
        _ = module.app


def test_an_unregistered_response_format_fails_at_start() -> None:
    settings = Settings.from_env({"AGENT_ENDPOINT_NAME": "e", "AGENT_RESPONSE_FORMAT": "no-such-format"})
    with pytest.raises(SettingsError, match="AGENT_RESPONSE_FORMAT"):
        create_app(settings)


def test_uvicorn_refuses_to_start_with_an_unknown_variable() -> None:
    env = {**os.environ, "AGENT_ENDPOINT_NAME": "e", "AGENT_TYPO": "1", "AWS_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "agent_api.app:app", "--port", "0"],
        cwd=LAMBDA_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "AGENT_TYPO: unknown variable" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_sh_serves_health_on_the_adapter_port() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AWS_LWA_PORT": str(port),
        "AGENT_ENDPOINT_NAME": "e",
    }
    process = subprocess.Popen(
        [LAMBDA_DIR / "run.sh"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while status is None and time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200
        # A request uvicorn cannot parse gets the API's JSON error, not uvicorn's plain text.
        answer = raw_exchange(
            f"http://127.0.0.1:{port}",
            b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        )
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "bad_request"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_request_throttled_throughout_sleeps_within_the_retry_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What Strands sleeps between attempts is recorded instead of slept.
    slept: list[float] = []
    sleep = asyncio.sleep

    async def record(delay: float, *args: object) -> None:
        if delay > 0:
            slept.append(delay)
        await sleep(0)

    monkeypatch.setattr(asyncio, "sleep", record)
    settings = Settings.from_env({"AGENT_ENDPOINT_NAME": "test-endpoint", "AWS_REGION": "us-east-1"})
    with SageMakerRuntime(Throttle()) as runtime:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
        policy = RetryPolicy()
        factory = AgentFactory(settings, create_runtime_client(boto3.Session(), "us-east-1"), policy)
        agent = factory.agent(TurnRequest(prompt="Hi", session_id=None, max_tokens=16, temperature=0.2), None)
        with pytest.raises(ModelThrottledException):
            async for _ in agent.stream_async("Hi"):
                pass
    # Strands retries (1 s, 2 s, 4 s apart); botocore does not retry on top of it.
    assert len(runtime.requests) == policy.max_attempts
    assert slept == [1, 2, 4]
    assert sum(slept) <= RETRY_BACKOFF_BUDGET_SECONDS


def test_every_request_is_sent_with_the_runtime_client_given_to_the_app() -> None:
    # The environment points sagemaker-runtime at a closed port (conftest): only the given client can answer.
    settings = Settings.from_env({"AGENT_ENDPOINT_NAME": "test-endpoint", "AWS_REGION": "us-east-1"})
    with SageMakerRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        client = create_client("us-east-1", runtime.url)
        with serve(create_app(settings, runtime_client=client)) as url:
            statuses = [httpx.post(f"{url}/chat", json={"prompt": "Hi"}).status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert [request.path for request in runtime.requests] == [
        "/endpoints/test-endpoint/invocations-response-stream"
    ] * 2
