"""The Lambda bundle itself serves a turn: its run.sh on the Lambda's Python, only the stdlib beside it.

The bundle is the x86_64 one `cdk synth` would upload (pruned botocore models and distributions included);
the agent API it starts reaches real vLLM CPU through the SageMaker-runtime emulator, keeps its session in
moto's S3, calls the example MCP server with the bundled MCP client and answers from a Bedrock fallback, so a
pruned file that any step needs fails here.
"""

import platform
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from agent_api.page import assemble_page
from local.agent_environment import (
    COMPONENT_NAME,
    ENDPOINT_NAME,
    SESSIONS_BUCKET,
)
from local.emulator import Emulator, Endpoint
from local.fallback import BEDROCK, FALLBACK_MODEL_ID, LocalFallback
from local.mcp_example import McpHttpServer, example_app
from local.tiny_model.script import CALLED_TOOL, FORECAST_TOOL, TOOL_RESULT_TEXT
from tests.e2e.bundled_agent import s3_client, start_bundled_agent
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e


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
        yield start_bundled_agent(
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
        agent_url, _ = start_bundled_agent(
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
    listing = s3_client(s3_url).list_objects_v2(Bucket=SESSIONS_BUCKET)
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
