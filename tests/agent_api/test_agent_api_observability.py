"""Logs carry the request id and never the prompt or the answer; metrics are emitted as CloudWatch EMF.

That every turn, through every door, ends with one end line and one metrics document is
`test_agent_api_pipeline.py`'s.
"""

from __future__ import annotations

import io
import json

import pytest

from tests.agent_api.harness import HarnessFactory, json_lines, total
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import Stream, Throttle

LAMBDA_CONTEXT = json.dumps({"request_id": "req-0123", "invoked_function_arn": "arn:aws:lambda:x"})


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
