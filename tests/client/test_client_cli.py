from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from agent_api.sse import encode_event
from agent_client.api import (
    ApiHttpError,
    ChatCall,
    ClientFailure,
    api_url_from_stack,
    chat_url,
    cloudformation_client,
    default_stack_name,
    region_from_url,
)
from agent_client.cli import EXIT_API_ERROR, EXIT_CLIENT_ERROR, EXIT_OK, main
from tests.client.sigv4_check import expected_authorization_signature
from tests.support.scripted_server import Reply, ScriptedServer

DONE = (
    "done",
    {"stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 3}, "session_id": None},
)


def answer(*events: tuple[str, dict[str, Any]], pause_after: int | None = None) -> Reply:
    """The agent API's streamed answer: these events, encoded by its own SSE encoder, one chunk each."""
    chunks = [encode_event(name, data) for name, data in events]
    return Reply(chunks, content_type="text/event-stream", pause_after=pause_after)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_answer_text_is_printed_and_the_summary_goes_to_stderr(api: ScriptedServer) -> None:
    api.reply = answer(("text", {"delta": "Hello"}), ("text", {"delta": " there"}), DONE)
    code, out, err = run("Hi", "--url", api.url, "--no-sign")
    assert (code, out) == (EXIT_OK, "Hello there\n")
    assert "end_turn: 5 tokens in, 3 out" in err


def test_the_summary_names_the_turns_trace_when_it_has_one(api: ScriptedServer) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    api.reply = answer(("text", {"delta": "Hi"}), ("done", {**DONE[1], "trace_id": trace_id}))
    _, _, err = run("Hi", "--url", api.url, "--no-sign")
    assert f"end_turn: 5 tokens in, 3 out, trace {trace_id}]" in err


def test_tool_calls_are_shown_inline(api: ScriptedServer) -> None:
    api.reply = answer(
        ("text", {"delta": "Let me compute."}),
        ("tool_use", {"id": "t1", "name": "calculator", "input": {"expression": "6*7"}}),
        ("tool_result", {"id": "t1", "name": "calculator", "status": "success", "content": "42"}),
        ("text", {"delta": "It is 42."}),
        DONE,
    )
    _, out, _ = run("6*7?", "--url", api.url, "--no-sign")
    assert out == (
        'Let me compute.\n[tool calculator {"expression": "6*7"}]\n[calculator success: 42]\nIt is 42.\n'
    )


def test_an_error_event_is_reported_with_its_code(api: ScriptedServer) -> None:
    api.reply = answer(("text", {"delta": "Par"}), ("error", {"code": "model_error", "message": "OOM"}))
    code, out, err = run("Hi", "--url", api.url, "--no-sign")
    assert (code, out) == (EXIT_API_ERROR, "Par\n")
    assert "error (model_error): OOM" in err


def test_warming_status_is_shown_on_stderr_before_the_answer(api: ScriptedServer) -> None:
    api.reply = answer(
        ("status", {"state": "warming", "elapsed_s": 0}),
        ("status", {"state": "warming", "elapsed_s": 10}),
        ("text", {"delta": "Hello"}),
        DONE,
    )
    code, out, err = run("Hi", "--url", api.url, "--no-sign")
    assert (code, out) == (EXIT_OK, "Hello\n")
    assert err.startswith("[model warming: 0 s]\n[model warming: 10 s]\n")


def test_a_fallback_answer_says_so_on_stderr_and_the_summary_names_the_model(api: ScriptedServer) -> None:
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    api.reply = answer(
        ("status", {"state": "fallback", "model": model}),
        ("text", {"delta": "Hello"}),
        (
            "done",
            {"stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 3}, "model": model},
        ),
    )
    code, out, err = run("Hi", "--url", api.url, "--no-sign")
    assert (code, out) == (EXIT_OK, "Hello\n")
    assert err == (
        f"[model starting: the fallback model {model} answers]\n"
        f"[end_turn: 5 tokens in, 3 out, model {model}]\n"
    )


def test_reasoning_is_shown_on_stderr_and_the_answer_alone_on_stdout(api: ScriptedServer) -> None:
    api.reply = answer(
        ("reasoning", {"delta": "The user greets me."}),
        ("reasoning", {"delta": " Greet back."}),
        ("text", {"delta": "Hello"}),
        DONE,
    )
    code, out, err = run("Hi", "--url", api.url, "--no-sign")
    assert (code, out) == (EXIT_OK, "Hello\n")
    assert err.startswith("[reasoning] The user greets me. Greet back.\n[end_turn")


def test_no_wait_asks_the_api_not_to_wait_and_shows_its_503(api: ScriptedServer) -> None:
    body = json.dumps({"code": "model_warming", "message": "the model is scaled to zero"}).encode()
    api.reply = Reply([body], status=503, chunked=False)
    code, _, err = run("Hi", "--url", api.url, "--no-sign", "--no-wait")
    assert json.loads(api.received[0].body) == {"prompt": "Hi", "wait": False}
    assert code == EXIT_API_ERROR
    assert "HTTP 503 model_warming" in err


def test_a_stream_cut_before_done_is_an_error(api: ScriptedServer) -> None:
    api.reply = answer(("text", {"delta": "Par"}))
    code, _, err = run("Hi", "--url", api.url, "--no-sign")
    assert code == EXIT_API_ERROR
    assert "ended without a final event" in err


def test_an_http_error_shows_the_api_code(api: ScriptedServer) -> None:
    body = json.dumps({"code": "model_throttled", "message": "retry later"}).encode()
    api.reply = Reply([body], status=429)
    code, _, err = run("Hi", "--url", api.url, "--no-sign")
    assert code == EXIT_API_ERROR
    assert "HTTP 429 model_throttled: retry later" in err


def test_an_api_gateway_error_shows_its_message(api: ScriptedServer) -> None:
    body = json.dumps({"message": "The security token included in the request is invalid."}).encode()
    api.reply = Reply([body], status=403)
    code, _, err = run("Hi", "--url", api.url, "--no-sign")
    assert code == EXIT_API_ERROR
    assert "HTTP 403 http_error: The security token included in the request is invalid." in err


def test_a_non_stream_success_is_a_clear_error(api: ScriptedServer) -> None:
    api.reply = Reply([b"<html></html>"], content_type="text/html")
    code, _, err = run("Hi", "--url", api.url, "--no-sign")
    assert code == EXIT_CLIENT_ERROR
    assert "expected an event stream" in err


def test_an_unreachable_api_is_a_clear_error() -> None:
    code, _, err = run("Hi", "--url", "http://127.0.0.1:9", "--no-sign")
    assert code == EXIT_CLIENT_ERROR
    assert "cannot reach http://127.0.0.1:9/chat" in err


def test_request_fields_come_from_the_flags(api: ScriptedServer) -> None:
    api.reply = answer(DONE)
    run("Hi", "--url", api.url, "--no-sign", "--session", "s1", "--max-tokens", "50", "--temperature", "0.3")
    assert api.received[0].path == "/chat"
    assert json.loads(api.received[0].body) == {
        "prompt": "Hi",
        "session_id": "s1",
        "max_tokens": 50,
        "temperature": 0.3,
    }


def test_unsigned_requests_carry_no_authorization(api: ScriptedServer) -> None:
    api.reply = answer(DONE)
    run("Hi", "--url", api.url, "--no-sign")
    assert "Authorization" not in api.received[0].headers


def test_requests_are_signed_with_sigv4_for_execute_api(api: ScriptedServer) -> None:
    api.reply = answer(DONE)
    run("Hi", "--url", api.url, "--region", "eu-west-1")
    received = api.received[0]
    authorization = received.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert received.headers["X-Amz-Security-Token"] == "session-token"
    # Recompute the signature over what the server received: it must match.
    signature = expected_authorization_signature(
        received, f"{api.url}/chat", "eu-west-1", {"content-type", "accept"}
    )
    assert authorization.endswith(f"Signature={signature}")


def test_signing_without_credentials_is_a_clear_error(
    api: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    code, _, err = run("Hi", "--url", api.url)
    assert code == EXIT_CLIENT_ERROR
    assert "no AWS credentials found" in err
    assert api.received == []


def test_events_arrive_while_the_answer_is_still_streaming(api: ScriptedServer) -> None:
    api.reply = answer(("text", {"delta": "first"}), DONE, pause_after=1)
    stream = ChatCall(url=f"{api.url}/chat", body={"prompt": "Hi"}, headers={}).events()
    first = next(stream)
    api.reply.resume.set()
    assert (first.name, json.loads(first.data)) == ("text", {"delta": "first"})
    assert [event.name for event in stream] == ["done"]


def test_http_errors_raise_api_http_error(api: ScriptedServer) -> None:
    api.reply = Reply([b'{"code":"x","message":"y"}'], status=400)
    with pytest.raises(ApiHttpError) as info:
        list(ChatCall(url=f"{api.url}/chat", body={"prompt": "Hi"}, headers={}).events())
    assert (info.value.status, info.value.code, info.value.message) == (400, "x", "y")


def test_default_stack_name_follows_the_env() -> None:
    assert default_stack_name("prod") == "SageMakerAgent-prod"


def test_chat_url_is_under_the_api_url() -> None:
    assert chat_url("https://abc.execute-api.us-east-1.amazonaws.com/prod/") == (
        "https://abc.execute-api.us-east-1.amazonaws.com/prod/chat"
    )


def test_chat_url_rejects_non_http_urls() -> None:
    with pytest.raises(ClientFailure, match="not an http"):
        chat_url("ftp://example.com")


def test_region_is_read_from_execute_api_urls() -> None:
    assert (
        region_from_url("https://abc123.execute-api.ap-southeast-2.amazonaws.com/prod/chat")
        == "ap-southeast-2"
    )
    assert region_from_url("http://127.0.0.1:8080/chat") is None


def stubbed_cloudformation(response: dict[str, object] | None = None, error: str | None = None) -> Any:
    """A real CloudFormation client answering one `DescribeStacks` from botocore's Stubber."""
    client = cloudformation_client(boto3.Session(region_name="us-east-1"))
    stubber = Stubber(client)
    if error:
        stubber.add_client_error("describe_stacks", error, "Stack with id X does not exist", 400)
    else:
        stubber.add_response("describe_stacks", response, {"StackName": "SageMakerAgent-dev"})
    stubber.activate()
    return client


def stack(outputs: list[dict[str, str]]) -> dict[str, object]:
    return {
        "Stacks": [
            {
                "StackName": "SageMakerAgent-dev",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": outputs,
            }
        ]
    }


def test_api_url_is_read_from_the_stack_output() -> None:
    cloudformation = stubbed_cloudformation(
        stack([{"OutputKey": "ApiUrl", "OutputValue": "https://x.example/prod/"}])
    )
    assert api_url_from_stack(cloudformation, "SageMakerAgent-dev") == "https://x.example/prod/"


def test_a_stack_without_the_output_is_a_clear_error() -> None:
    cloudformation = stubbed_cloudformation(stack([{"OutputKey": "Other", "OutputValue": "v"}]))
    with pytest.raises(ClientFailure, match="has no 'ApiUrl' output"):
        api_url_from_stack(cloudformation, "SageMakerAgent-dev")


def test_a_missing_stack_is_a_clear_error() -> None:
    cloudformation = stubbed_cloudformation(error="ValidationError")
    with pytest.raises(ClientFailure, match="cannot read stack 'SageMakerAgent-dev': Stack with id X"):
        api_url_from_stack(cloudformation, "SageMakerAgent-dev")


@pytest.mark.parametrize(
    ("region", "message"),
    [(None, "You must specify a region"), ("", "Invalid endpoint")],
)
def test_finding_the_stack_without_a_region_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, region: str | None, message: str
) -> None:
    if region is None:
        monkeypatch.delenv("AWS_DEFAULT_REGION")
    else:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    code, _, err = run("Hi", "--env", "dev")
    assert code == EXIT_CLIENT_ERROR
    assert f"error: cannot ask CloudFormation for the API URL: {message}" in err
