"""`container/serve` run for real as a process, with a fake engine standing in for SGLang/vLLM."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serve_runner
from serve_runner import main

SERVE = Path(__file__).resolve().parents[2] / "container" / "serve"

# Stands in for `python3 -m <engine> ...`: records its arguments and HF_TOKEN, then waits for SIGTERM
# and exits with FAKE_EXIT_ON_TERM, or exits at once with FAKE_EXIT_NOW, or kills itself (FAKE_KILL_SELF).
FAKE_ENGINE = """#!/bin/bash
echo "args: $*" > "$FAKE_ENGINE_LOG"
echo "token: ${HF_TOKEN:-<none>}" >> "$FAKE_ENGINE_LOG"
if [ -n "${FAKE_EXIT_NOW:-}" ]; then exit "$FAKE_EXIT_NOW"; fi
if [ -n "${FAKE_KILL_SELF:-}" ]; then kill -KILL $$; fi
trap 'echo "got TERM" >> "$FAKE_ENGINE_LOG"; exit "${FAKE_EXIT_ON_TERM:-0}"' TERM
echo ready >> "$FAKE_ENGINE_LOG"
while true; do sleep 0.05; done
"""


@pytest.fixture
def engine_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(FAKE_ENGINE)
    fake.chmod(0o755)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVE_")}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            "FAKE_ENGINE_LOG": str(tmp_path / "engine.log"),
            "SERVE_ENGINE": "vllm",
            "SERVE_MODEL_DIR": str(model),
        }
    )
    return env


@pytest.fixture
def start_serve(engine_env: dict[str, str]) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(**extra: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(SERVE)], env={**engine_env, **extra}, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def engine_log(env: dict[str, str]) -> str:
    path = Path(env["FAKE_ENGINE_LOG"])
    return path.read_text() if path.exists() else ""


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_starts_the_engine_with_the_built_command_line(
    start_serve: Any, engine_env: dict[str, str]
) -> None:
    process = start_serve(FAKE_EXIT_NOW="0", SERVE_TP_DEGREE="2")
    assert process.wait(timeout=10) == 0
    assert engine_log(engine_env).splitlines()[0] == (
        f"args: -m vllm.entrypoints.openai.api_server --model {engine_env['SERVE_MODEL_DIR']} "
        "--tensor-parallel-size 2 --enable-auto-tool-choice --tool-call-parser llama3_json "
        "--served-model-name model --host 0.0.0.0 --port 8080"
    )


def test_sigterm_is_forwarded_and_the_engine_exit_code_returned(
    start_serve: Any, engine_env: dict[str, str]
) -> None:
    process = start_serve(FAKE_EXIT_ON_TERM="42")
    wait_for(lambda: "ready" in engine_log(engine_env))
    process.send_signal(signal.SIGTERM)  # to serve only: the engine hears of it through serve
    assert process.wait(timeout=10) == 42
    assert "got TERM" in engine_log(engine_env)


def test_engine_exit_code_is_returned(start_serve: Any) -> None:
    assert start_serve(FAKE_EXIT_NOW="3").wait(timeout=10) == 3


def test_engine_killed_by_a_signal_gives_128_plus_its_number(start_serve: Any) -> None:
    assert start_serve(FAKE_KILL_SELF="1").wait(timeout=10) == 128 + signal.SIGKILL


def test_invalid_variable_exits_2_with_a_message_and_no_traceback(start_serve: Any) -> None:
    process = start_serve(SERVE_PORT="eighty")
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 2
    assert stderr == "serve: SERVE_PORT='eighty' is not a whole number\n"


def test_unexpected_arguments_are_refused(start_serve: Any, engine_env: dict[str, str]) -> None:
    process = subprocess.run(
        [sys.executable, str(SERVE), "train"], env=engine_env, capture_output=True, text=True, check=False
    )
    assert process.returncode == 2
    assert "usage: serve" in process.stderr


def test_missing_engine_exits_127(engine_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    env = {**engine_env, "PATH": "/nonexistent"}
    assert main([], env) == 127
    assert "serve: cannot start the engine (python3)" in capsys.readouterr().err


def test_secret_token_reaches_the_engine_as_hf_token_and_is_never_printed(
    engine_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "hf_secret_value_123"
    monkeypatch.setattr(serve_runner, "read_hf_token", lambda secret_id: token if secret_id == "hf" else "")
    env = {**engine_env, "SERVE_HF_TOKEN_SECRET": "hf", "FAKE_EXIT_NOW": "0"}
    assert main(["serve"], env) == 0
    assert f"token: {token}" in engine_log(engine_env)
    assert token not in capsys.readouterr().err


def test_unreadable_secret_exits_2_before_the_engine_starts(
    engine_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(secret_id: str) -> str:
        raise serve_runner.SecretError(
            f"cannot read SERVE_HF_TOKEN_SECRET={secret_id}: AccessDeniedException"
        )

    monkeypatch.setattr(serve_runner, "read_hf_token", fail)
    assert main([], {**engine_env, "SERVE_HF_TOKEN_SECRET": "hf"}) == 2
    assert "serve: cannot read SERVE_HF_TOKEN_SECRET=hf: AccessDeniedException" in capsys.readouterr().err
    assert engine_log(engine_env) == ""
