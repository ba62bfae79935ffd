"""``python -m sagemaker_provider replay|capture`` run as a user would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_provider.cli import main
from tests.provider.helpers import FIXTURES, body_files, fixture_id
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "lambda"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sagemaker_provider", *args],
        capture_output=True,
        env=environment,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("path", body_files(), ids=fixture_id)
def test_replay_prints_events_or_typed_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["replay", str(path)])
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    if status == 0:
        assert "messageStop" in events[-2] and "metadata" in events[-1]
    else:
        assert status == 1
        assert re.match(r"error: \w+(Error|Exception): ", err), err


def test_replay_of_truncated_stream_exits_nonzero_with_typed_error(tmp_path: Path) -> None:
    body = (FIXTURES / "sglang" / "a_text_stream_v1.body").read_bytes()
    broken = tmp_path / "broken.bin"
    broken.write_bytes(body[:600])
    result = _run("replay", str(broken))
    assert result.returncode == 1
    assert b"StreamTruncatedError" in result.stderr
    assert b"Traceback" not in result.stderr


def test_replay_with_named_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(FIXTURES / "tgi" / "native_stream_details.body"), "--format", "tgi"]) == 0
    assert '"stopReason": "end_turn"' in capsys.readouterr().out


def test_replay_of_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "/nonexistent/body.bin"]) == 2


def test_capture_writes_raw_body_from_endpoint(tmp_path: Path) -> None:
    body = (FIXTURES / "vllm" / "chat_stream_usage.txt").read_bytes()
    with SageMakerRuntime(Stream([body[:100], body[100:]])) as endpoint:
        result = _run(
            "capture",
            "--endpoint",
            ENDPOINT,
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint.url,
            "--prompt",
            "Hi",
            env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
        )
        request = json.loads(endpoint.requests[0].body)
    assert result.returncode == 0, result.stderr
    assert result.stdout == body
    assert request["messages"] == [{"role": "user", "content": "Hi"}]


def test_replay_into_a_reader_that_stops_early_exits_quietly(tmp_path: Path) -> None:
    # Far more output than a pipe buffers, so the reader closing early breaks the pipe mid-replay.
    chunk = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes().split(b"\n\n")[1] + b"\n\n"
    body = tmp_path / "long.bin"
    body.write_bytes(chunk * 5000 + b"data: [DONE]\n\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "lambda")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_provider", "replay", str(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline()) == {"messageStart": {"role": "assistant"}}
    process.stdout.close()

    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""


def test_replay_with_the_request_and_its_syntax_reads_a_tool_call_left_in_the_text(tmp_path: Path) -> None:
    # The recorded request offered get_weather; the answer writes the call as Hermes text (no tool parser).
    request = FIXTURES / "vllm" / "invocations_tools_stream.request.json"
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    end = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    body = tmp_path / "body.txt"
    body.write_text(f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(end)}\n\ndata: [DONE]\n\n")
    without = _run("replay", str(body))
    without_syntax = _run("replay", str(body), "--request", str(request))
    other_syntax = _run("replay", str(body), "--request", str(request), "--text-tool-calls", "llama3_json")
    with_request = _run("replay", str(body), "--request", str(request), "--text-tool-calls", "hermes")
    assert b"<tool_call>" in without.stdout
    assert b"<tool_call>" in without_syntax.stdout
    assert b"<tool_call>" in other_syntax.stdout
    events = [json.loads(line) for line in with_request.stdout.splitlines()]
    assert with_request.returncode == 0
    assert b"<tool_call>" not in with_request.stdout
    starts = [e["contentBlockStart"]["start"] for e in events if "contentBlockStart" in e]
    assert [start["toolUse"]["name"] for start in starts if "toolUse" in start] == ["get_weather"]
    assert {"messageStop": {"stopReason": "tool_use"}} in events


def test_replay_with_a_request_that_is_not_json_exits_1(tmp_path: Path) -> None:
    (tmp_path / "request.json").write_text("not json")
    result = _run(
        "replay", str(FIXTURES / "vllm" / "chat_stream.txt"), "--request", str(tmp_path / "request.json")
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"error: JSONDecodeError")
