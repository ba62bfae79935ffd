"""Logs carry the request id and never the prompt or the answer; metrics are emitted as CloudWatch EMF."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from agent_api.observability import logger
from tests.agent_api.harness import Harness, HarnessFactory, json_lines, total, wait_until
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import Step, Stream, Throttle

LAMBDA_CONTEXT = json.dumps({"request_id": "req-0123", "invoked_function_arn": "arn:aws:lambda:x"})


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the JSON log handler writes (to stdout in Lambda)."""
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def test_logs_carry_the_lambda_request_id(harness: HarnessFactory, logs: io.StringIO) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    response = app.post({"prompt": "Hi"}, headers={"x-amzn-lambda-context": LAMBDA_CONTEXT})
    assert response.headers["x-request-id"] == "req-0123"
    finished = [line for line in json_lines(logs.getvalue()) if line.get("message") == "chat turn finished"]
    assert len(finished) == 1
    assert finished[0]["request_id"] == "req-0123"
    assert (finished[0]["input_tokens"], finished[0]["output_tokens"]) == (96, 10)


def test_prompts_and_answers_are_not_logged(harness: HarnessFactory, logs: io.StringIO) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    app.chat({"prompt": "my secret prompt 9f3a"})
    output = logs.getvalue()
    assert "chat turn finished" in output
    assert "9f3a" not in output
    assert "tiny test model" not in output


def test_metrics_cover_latency_tokens_and_tools(
    harness: HarnessFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness(
        [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]
    )
    app.chat({"prompt": "What is 6 times 7?"})
    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert len(documents) == 1
    metrics = documents[0]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SageMakerStrandsAgent"
    assert total(metrics, "ToolCalls") == 1
    assert total(metrics, "TimeToFirstToken") > 0
    # Two model calls; only the first (the tool call) reports usage in the recording.
    assert (total(metrics, "InputTokens"), total(metrics, "OutputTokens")) == (949, 8)


def test_tokens_and_tool_calls_are_one_value_per_turn_zero_tool_calls_included(
    harness: HarnessFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness(
        [
            Stream(calculator_call_parts()),
            Stream(calculator_call_parts()),
            Stream(fixture_parts("vllm/tools_result_followup_stream.txt")),
            Stream(fixture_parts("vllm/chat_stream_usage.txt")),
        ]
    )
    app.chat({"prompt": "What is 6 times 7, twice?"})
    app.chat({"prompt": "Hi"})
    first, second = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    # One value per turn (a value per call would make the dashboard's per-turn average 1).
    assert (first["ToolCalls"], second["ToolCalls"]) == ([2.0], [0.0])
    assert (second["InputTokens"], second["OutputTokens"]) == ([96.0], [10.0])


def test_errors_are_counted(
    harness: HarnessFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness([Stream(fixture_parts("sglang/e_error_midstream.body"))])
    app.chat({"prompt": "Hi"})
    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert len(documents) == 1
    assert total(documents[0], "Errors") == 1


def test_a_request_failing_before_it_streams_writes_its_metrics_once(
    harness: HarnessFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness([Throttle()])
    assert app.post({"prompt": "Hi"}).status_code == 429
    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert len(documents) == 1
    assert total(documents[0], "Errors") == 1


END_LINES = ("chat turn finished", "chat turn failed", "chat turn cancelled")


def leave_during_the_stream(app: Harness) -> None:
    with (
        httpx.Client(base_url=str(app.client.base_url), timeout=10) as client,
        connect_sse(client, "POST", "/chat", json={"prompt": "Hi"}) as source,
    ):
        next(source.iter_sse())


@pytest.mark.parametrize(
    ("steps", "call", "end", "metric"),
    [
        (
            [Stream(fixture_parts("vllm/chat_stream_usage.txt"))],
            Harness.chat,
            "chat turn finished",
            "OutputTokens",
        ),
        (
            [Stream(fixture_parts("sglang/e_error_midstream.body"))],
            Harness.chat,
            "chat turn failed",
            "Errors",
        ),
        ([Throttle()], Harness.post, "chat turn failed", "Errors"),
        (
            [Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=0)],
            Harness.leave_once_the_model_is_called,
            "chat turn cancelled",
            "Cancelled",
        ),
        (
            [Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)],
            lambda app, body: leave_during_the_stream(app),
            "chat turn cancelled",
            "Cancelled",
        ),
    ],
    ids=[
        "done",
        "error-event",
        "failed-before-streaming",
        "client-gone-before-first-event",
        "client-gone-mid-stream",
    ],
)
def test_every_turn_logs_one_end_line_and_one_metrics_document(
    harness: HarnessFactory,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    steps: list[Step],
    call: Callable[[Harness, dict[str, Any]], object],
    end: str,
    metric: str,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    app = harness(steps)
    call(app, {"prompt": "Hi"})
    stdout: list[str] = []

    def ended() -> bool:
        stdout.append(capsys.readouterr().out)
        return any(line.get("message") in END_LINES for line in json_lines(logs.getvalue())) and any(
            "_aws" in line for line in json_lines("".join(stdout))
        )

    wait_until(ended)
    # Whatever else would be logged has been by now (the end line is the turn's last act but its cleanup).
    app.client.get("/health")
    stdout.append(capsys.readouterr().out)
    ends = [line["message"] for line in json_lines(logs.getvalue()) if line.get("message") in END_LINES]
    documents = [line for line in json_lines("".join(stdout)) if "_aws" in line]
    assert ends == [end]
    assert len(documents) == 1
    assert total(documents[0], metric) >= 1
