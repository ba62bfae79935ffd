"""The command-line client against the real app (uvicorn), the real provider and recorded model streams."""

from __future__ import annotations

import io

from agent_client.cli import EXIT_API_ERROR, EXIT_OK, main
from local.tiny_model.script import TOOL_RESULT_TEXT
from tests.agent_api.harness import HarnessFactory
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import Stream


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_client_prints_a_tool_using_answer(harness: HarnessFactory) -> None:
    app = harness(
        [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]
    )
    code, out, err = run("What is 6 times 7?", "--url", str(app.client.base_url), "--no-sign")
    assert code == EXIT_OK
    assert (
        out == f'[tool calculator {{"expression": "6 * 7"}}]\n[calculator success: 42]\n{TOOL_RESULT_TEXT}\n'
    )
    assert "end_turn" in err


def test_client_reports_a_bad_request_with_its_code(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))], max_tokens=10)
    code, _, err = run("Hi", "--url", str(app.client.base_url), "--no-sign", "--max-tokens", "11")
    assert code == EXIT_API_ERROR
    assert "HTTP 400 invalid_field: field 'max_tokens' must be an integer from 1 to 10" in err
