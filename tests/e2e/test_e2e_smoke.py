"""`python -m ops.smoke` against the real local stack (vLLM CPU behind the emulator), as CI runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.agent_environment import ENDPOINT_NAME
from local.stack import LocalDeployment

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def smoke(stack: LocalDeployment, endpoint_name: str = ENDPOINT_NAME) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.smoke",
            "--url",
            stack.agent_url,
            "--endpoint-url",
            stack.emulator.url,
            "--endpoint-name",
            endpoint_name,
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(["lambda", "client"])},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_smoke_passes_on_the_local_stack_and_prints_the_timings(tools_api: LocalDeployment) -> None:
    result = smoke(tools_api)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    (endpoint,) = [line for line in lines if line.startswith(f"ok    endpoint {ENDPOINT_NAME}")]
    assert 'get_weather({"city": "Paris"})' in endpoint
    (chat,) = [line for line in lines if line.startswith("ok    POST ")]
    assert "text events, first text after" in chat and "done after" in chat


def test_smoke_fails_with_exit_1_and_the_reason_when_the_endpoint_does_not_exist(
    tools_api: LocalDeployment,
) -> None:
    result = smoke(tools_api, endpoint_name="no-such-endpoint")

    assert result.returncode == 1
    (failure,) = [
        line for line in result.stdout.splitlines() if line.startswith("FAIL  endpoint no-such-endpoint")
    ]
    assert "Error" in failure
