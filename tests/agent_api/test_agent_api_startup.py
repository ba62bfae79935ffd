"""Cold start: configuration errors fail at start naming the variable; the retry budget fits the timeout."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from strands import ModelRetryStrategy

from agent_api.agent_factory import MODEL_CLIENT_CONFIG, RetryPolicy
from agent_api.app import create_app
from agent_api.contract import MIN_LAMBDA_TIMEOUT_SECONDS, RETRY_BACKOFF_BUDGET_SECONDS
from agent_api.settings import Settings, SettingsError

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
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_default_retry_backoff_fits_the_budget() -> None:
    assert RetryPolicy().backoff_seconds() <= RETRY_BACKOFF_BUDGET_SECONDS
    assert RETRY_BACKOFF_BUDGET_SECONDS * 4 <= MIN_LAMBDA_TIMEOUT_SECONDS


def test_backoff_matches_what_strands_sleeps() -> None:
    policy = RetryPolicy()
    strategy = policy.strategy()
    assert isinstance(strategy, ModelRetryStrategy)
    strands_delays = [strategy._calculate_delay(attempt) for attempt in range(policy.max_attempts - 1)]
    assert sum(strands_delays) == policy.backoff_seconds()


def test_botocore_does_not_retry_on_top_of_strands() -> None:
    assert MODEL_CLIENT_CONFIG.retries == {"total_max_attempts": 1, "mode": "standard"}
