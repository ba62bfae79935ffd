"""The Lambda bundle itself serves a turn: its run.sh on the Lambda's Python, only the stdlib beside it.

The bundle is the x86_64 one `cdk synth` would upload (pruned botocore models and distributions included);
the agent API it starts reaches real vLLM CPU through the SageMaker-runtime emulator, keeps its session in
moto's S3, calls the example MCP server with the bundled MCP client and answers from a Bedrock fallback, so a
pruned file that any step needs fails here.
"""

import os
import platform
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from agent_api.page import assemble_page
from local.agent_environment import (
    COMPONENT_NAME,
    DUMMY_CREDENTIALS,
    ENDPOINT_NAME,
    LOCAL_TOOLS,
    REGION,
    SESSIONS_BUCKET,
    agent_environment,
)
from local.emulator import Emulator, Endpoint
from local.fallback import BEDROCK, FALLBACK_MODEL_ID, LocalFallback
from local.mcp_example import McpHttpServer, example_app
from local.server_process import ServerProcess
from local.stack import AGENT_STARTUP_TIMEOUT, AGENT_STOP_GRACE
from local.tiny_model.script import CALLED_TOOL, FORECAST_TOOL, TOOL_RESULT_TEXT
from local.vllm_server import free_port
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e


class BundledAgentError(RuntimeError):
    """The agent API did not start from the bundle."""


def _s3(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _start_bundled(
    stack: ExitStack, bundle: Path, lambda_python: str, workdir: Path, emulator: Emulator, **environment: Any
) -> tuple[str, str]:
    """Start the bundle's run.sh on ``emulator`` and a moto S3 of its own; return the API's and S3's URLs.

    ``environment`` is `local.agent_environment.agent_environment`'s keyword arguments.
    """
    # run.sh execs `python3`: here the Lambda's Python without site-packages (-S) or PYTHON* variables (-E),
    # so only the bundle (run.sh's working directory) and the standard library can be imported; -B leaves
    # no bytecode in the bundle.
    (workdir / "python3").write_text(f'#!/bin/sh\nexec "{lambda_python}" -S -E -B "$@"\n')
    (workdir / "python3").chmod(0o755)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    stack.callback(moto.stop)
    host, port = moto.get_host_and_port()
    s3_url = f"http://{host}:{port}"
    _s3(s3_url).create_bucket(Bucket=SESSIONS_BUCKET)
    agent_port = free_port()
    variables = agent_environment(emulator.url, s3_url, LOCAL_TOOLS, **environment)
    variables["PATH"] = f"{workdir}{os.pathsep}{variables['PATH']}"
    variables["AWS_LWA_PORT"] = str(agent_port)
    agent_url = f"http://127.0.0.1:{agent_port}"
    process = ServerProcess(
        name="the agent API from the Lambda bundle",
        argv=["/bin/sh", str(bundle / "run.sh")],
        env=variables,
        log_file=workdir / "agent-api.log",
        ready_url=f"{agent_url}/health",
        startup_timeout=AGENT_STARTUP_TIMEOUT,
        stop_grace=AGENT_STOP_GRACE,
        error=BundledAgentError,
    )
    stack.enter_context(process)
    return agent_url, s3_url


def _x86_64_bundle(lambda_bundle: Callable[[str], Path]) -> Path:
    if platform.machine() != "x86_64":
        pytest.skip("the x86_64 bundle's compiled modules load only on x86_64")
    return lambda_bundle("x86_64")


@pytest.fixture(scope="module")
def bundled_agent(
    lambda_bundle: Callable[[str], Path],
    lambda_python: str,
    vllm_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """Start the bundle's run.sh with the emulator and moto's S3; yield the agent API's and S3's URLs."""
    bundle = _x86_64_bundle(lambda_bundle)
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator({ENDPOINT_NAME: Endpoint(vllm_url)}))
        mcp = stack.enter_context(McpHttpServer(example_app))
        yield _start_bundled(
            stack,
            bundle,
            lambda_python,
            tmp_path_factory.mktemp("bundled-agent"),
            emulator,
            mcp_servers=[{"name": "example", "url": mcp.url}],
        )


@pytest.fixture(scope="module")
def bundled_agent_with_fallback(
    lambda_bundle: Callable[[str], Path],
    lambda_python: str,
    vllm_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The bundle's agent API on a model scaled to zero with a Bedrock fallback (the emulator's Converse)."""
    bundle = _x86_64_bundle(lambda_bundle)
    fallback = LocalFallback(BEDROCK)
    with ExitStack() as stack:
        emulator = stack.enter_context(
            Emulator(
                {ENDPOINT_NAME: Endpoint(vllm_url, inference_components=(COMPONENT_NAME,))},
                component_copies=0,
                warm_up_seconds=600,
                converse_models=fallback.converse_models(vllm_url),
            )
        )
        workdir = tmp_path_factory.mktemp("bundled-fallback-agent")
        agent_url, _ = _start_bundled(
            stack,
            bundle,
            lambda_python,
            workdir,
            emulator,
            inference_component=COMPONENT_NAME,
            fallback=fallback,
        )
        yield agent_url


def test_bundled_agent_answers_its_health_check(bundled_agent: tuple[str, str]) -> None:
    agent_url, _ = bundled_agent
    response = httpx.get(f"{agent_url}/health", timeout=10)

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_bundled_agent_serves_the_chat_page_with_its_libraries(bundled_agent: tuple[str, str]) -> None:
    agent_url, _ = bundled_agent
    response = httpx.get(f"{agent_url}/", timeout=10)

    # The bundle holds the page's sources and vendored libraries, joined as from the repository.
    assert response.status_code == 200
    assert response.content == assemble_page().html
    assert b"marked v" in response.content
    assert b"DOMPurify" in response.content


def test_bundled_agent_runs_a_tool_call_turn_and_keeps_the_session_in_s3(
    bundled_agent: tuple[str, str],
) -> None:
    agent_url, s3_url = bundled_agent
    session_id = f"bundle-{uuid.uuid4().hex}"

    result = chat(agent_url, prompt="What is the weather in Paris?", session_id=session_id)

    [tool_use] = result.named("tool_use")
    [tool_result] = result.named("tool_result")
    assert (tool_use.data["name"], tool_result.data["status"]) == (CALLED_TOOL, "success")
    assert result.text == TOOL_RESULT_TEXT
    assert result.events[-1].name == "done"
    listing = _s3(s3_url).list_objects_v2(Bucket=SESSIONS_BUCKET)
    assert any(session_id in item["Key"] for item in listing.get("Contents", []))


def test_bundled_agent_answers_from_a_bedrock_fallback_while_its_model_sleeps(
    bundled_agent_with_fallback: str,
) -> None:
    # The bundle keeps botocore's bedrock-runtime model: Strands' BedrockModel runs from it.
    result = chat(bundled_agent_with_fallback, prompt="What is the weather in Paris?")

    assert (result.events[0].name, result.events[0].data) == (
        "status",
        {"state": "fallback", "model": FALLBACK_MODEL_ID},
    )
    assert [event.data["name"] for event in result.named("tool_use")] == [CALLED_TOOL]
    assert result.text == TOOL_RESULT_TEXT
    assert result.events[-1].data["model"] == FALLBACK_MODEL_ID


def test_bundled_agent_calls_an_mcp_server_with_the_bundled_mcp_client(
    bundled_agent: tuple[str, str],
) -> None:
    agent_url, _ = bundled_agent

    result = chat(agent_url, prompt="What is the forecast for Paris?")

    [tool_result] = result.named("tool_result")
    assert (tool_result.data["name"], tool_result.data["status"]) == (FORECAST_TOOL, "success")
    assert tool_result.data["content"].startswith("day 1: sunny")
    assert not result.named("warning")
