"""The commands a user runs: `local.demo`, `local.stack` and the project's client, on the session's vLLM."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.stack import LocalDeployment
from local.tiny_model.script import CALL_ARGUMENTS, CALLED_TOOL, TOOL_RESULT_TEXT
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def _port_is_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_demo_prints_the_tool_call_and_the_answer_and_exits_zero(vllm_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", "--backend", vllm_url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert f"tool call   {CALLED_TOOL}({json.dumps(CALL_ARGUMENTS)})" in result.stdout
    assert TOOL_RESULT_TEXT in result.stdout


def test_cold_demo_shows_the_model_warming_then_the_answer(vllm_url: str) -> None:
    # `make demo COLD=1`: the model starts scaled to zero and takes COLD_START_SECONDS to wake.
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", "--backend", vllm_url, "--cold"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stderr
    warming = result.stdout.index("model warming (0 s so far)")
    assert warming < result.stdout.index(f"tool call   {CALLED_TOOL}")
    assert TOOL_RESULT_TEXT in result.stdout


def test_demo_leaves_no_agent_api_behind(vllm_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", "--backend", vllm_url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    agent_url = re.search(r"asking the agent API at (http://[\d.:]+)", result.stdout)
    assert agent_url is not None
    assert _port_is_closed(agent_url[1])


def test_demo_fails_with_exit_code_1_when_the_model_server_is_down() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", "--backend", "http://127.0.0.1:9"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "demo failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_stack_command_serves_until_interrupted_then_stops_everything(vllm_url: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--backend", vllm_url, "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        output = "".join(lines)
        agent_url = re.search(r"Agent API\s+(http://[\d.:]+)", output)
        assert agent_url is not None, output
        page_url = re.search(r"Chat page\s+(http://\S+)", output)
        assert page_url is not None, output
        assert page_url[1] == f"{agent_url[1]}/"
        assert httpx.get(page_url[1]).headers["content-type"] == "text/html; charset=utf-8"
        assert chat(agent_url[1], prompt="What is the weather in Paris?").text == TOOL_RESULT_TEXT

        process.send_signal(signal.SIGINT)

        assert process.wait(timeout=60) == 0
        assert _port_is_closed(agent_url[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_project_client_prints_the_streamed_answer(tools_api: LocalDeployment) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_client",
            "--url",
            tools_api.agent_url,
            "--no-sign",
            "What is the weather in Paris?",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "client")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert f"[tool {CALLED_TOOL}" in result.stdout
    assert TOOL_RESULT_TEXT in result.stdout
