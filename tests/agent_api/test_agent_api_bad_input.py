"""Every class of bad input gets a specific 4xx JSON error and never reaches the model."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest

from tests.agent_api.harness import Harness, HarnessFactory, raw_exchange
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream


@pytest.fixture
def app(harness: HarnessFactory) -> Harness:
    return harness(
        [Stream(fixture_parts("vllm/chat_stream_usage.txt"))], max_prompt_chars=100, max_tokens=512
    )


def post_raw(app: Harness, content: bytes, content_type: str | None = "application/json") -> Any:
    headers = {"content-type": content_type} if content_type else {}
    return app.client.post("/chat", content=content, headers=headers)


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 400, "missing_field", "'prompt' is required"),
        ({"prompt": ""}, 400, "invalid_field", "must not be empty"),
        ({"prompt": "   \n"}, 400, "invalid_field", "must not be empty"),
        ({"prompt": 42}, 400, "invalid_field", "'prompt' must be a string"),
        ({"prompt": ["Hi"]}, 400, "invalid_field", "'prompt' must be a string"),
        ({"prompt": None}, 400, "invalid_field", "'prompt' must be a string"),
        ({"prompt": "x" * 101}, 400, "prompt_too_long", "101 characters; the limit is 100"),
        ({"prompt": "Hi", "model": "gpt"}, 400, "unknown_field", "unknown field(s): model"),
        ({"prompt": "Hi", "session_id": "../etc"}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": "a/b"}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": "x" * 129}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": ""}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": "_abc"}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": "-abc"}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": "abc\n"}, 400, "invalid_field", "'session_id'"),
        ({"prompt": "Hi", "session_id": 7}, 400, "invalid_field", "'session_id'"),
        (
            {"prompt": "Hi", "max_tokens": 0},
            400,
            "invalid_field",
            "'max_tokens' must be an integer from 1 to 512",
        ),
        ({"prompt": "Hi", "max_tokens": 513}, 400, "invalid_field", "'max_tokens'"),
        ({"prompt": "Hi", "max_tokens": 10.5}, 400, "invalid_field", "'max_tokens'"),
        ({"prompt": "Hi", "max_tokens": True}, 400, "invalid_field", "'max_tokens'"),
        ({"prompt": "Hi", "max_tokens": "10"}, 400, "invalid_field", "'max_tokens'"),
        (
            {"prompt": "Hi", "temperature": -0.1},
            400,
            "invalid_field",
            "'temperature' must be a number from 0 to 2",
        ),
        ({"prompt": "Hi", "temperature": 2.01}, 400, "invalid_field", "'temperature'"),
        ({"prompt": "Hi", "temperature": "hot"}, 400, "invalid_field", "'temperature'"),
        ([{"prompt": "Hi"}], 400, "invalid_body", "must be a JSON object"),
        ("Hi", 400, "invalid_body", "must be a JSON object"),
    ],
)
def test_invalid_body_is_rejected(app: Harness, body: Any, status: int, code: str, message: str) -> None:
    response = app.post(body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert message in response.json()["message"]
    assert app.runtime.requests == []


def test_session_id_without_a_sessions_bucket_is_rejected(app: Harness) -> None:
    response = app.post({"prompt": "Hi", "session_id": "abc"})
    assert (response.status_code, response.json()["code"]) == (400, "sessions_disabled")


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b'{"prompt": "Hi"'])
def test_non_json_body_is_rejected(app: Harness, content: bytes) -> None:
    response = post_raw(app, content)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_json")
    assert app.runtime.requests == []


def test_nan_temperature_is_rejected(app: Harness) -> None:
    response = post_raw(app, b'{"prompt": "Hi", "temperature": NaN}')
    assert (response.status_code, response.json()["code"]) == (400, "invalid_field")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_rejected(app: Harness, content_type: str | None) -> None:
    response = post_raw(app, json.dumps({"prompt": "Hi"}).encode(), content_type)
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert app.runtime.requests == []


def test_json_content_type_with_charset_is_accepted(app: Harness) -> None:
    response = post_raw(app, json.dumps({"prompt": "Hi"}).encode(), "application/json; charset=utf-8")
    assert response.status_code == 200


def test_oversized_body_is_rejected_before_parsing(app: Harness) -> None:
    response = post_raw(app, b'{"prompt": "' + b"x" * 10_000 + b'"}')
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


@pytest.fixture
def default_app(harness: HarnessFactory) -> Harness:
    """The app with the default limits (16,000 prompt characters)."""
    return harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 49_000 + b"]" * 49_000, "nested too deeply"),
        (b'{"prompt": "Hi", "max_tokens": ' + b"9" * 5_000 + b"}", "integer of more than 4300 digits"),
        (b'{"prompt": "hi \\ud800"}', "lone UTF-16 surrogate"),
        (b'{"prompt": "hi", "\\udfff": 1}', "lone UTF-16 surrogate"),
        ('{"prompt": "Hi"}'.encode("utf-16"), "not UTF-8"),
        ('{"prompt": "Hi"}'.encode("utf-16-le"), "not valid JSON"),
    ],
    ids=["deeply-nested", "huge-integer", "lone-surrogate", "surrogate-key", "utf-16", "utf-16-no-bom"],
)
def test_json_the_api_cannot_take_is_rejected(default_app: Harness, content: bytes, message: str) -> None:
    response = post_raw(default_app, content)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_json")
    assert message in response.json()["message"]
    assert default_app.runtime.requests == []


def escaped(body: dict[str, Any]) -> bytes:
    """The body as the project's client sends it: json.dumps, every non-ASCII character escaped."""
    return json.dumps(body).encode()


def test_longest_prompt_is_accepted_however_it_is_escaped(default_app: Harness) -> None:
    # Each emoji is one character but 12 bytes escaped ("\\ud83d\\ude00"), the most JSON can take.
    prompt = "\U0001f600" * 16_000
    response = post_raw(default_app, escaped({"prompt": prompt, "max_tokens": 8, "temperature": 0.5}))
    assert response.status_code == 200


def test_prompt_over_the_limit_however_escaped_is_too_long_not_too_large(default_app: Harness) -> None:
    response = post_raw(default_app, escaped({"prompt": "\U0001f600" * 16_001}))
    assert (response.status_code, response.json()["code"]) == (400, "prompt_too_long")


@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_json_content_type_with_another_charset_is_rejected(app: Harness, charset: str) -> None:
    response = post_raw(app, b'{"prompt": "Hi"}', f"application/json; charset={charset}")
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "request_id",
    ["a\nb", "\u00e9\u4e2d", "x" * 300, "", "a b"],
    ids=["newline", "non-latin-1", "long", "empty", "space"],
)
def test_unusable_request_id_is_replaced_by_a_fresh_one(app: Harness, request_id: str) -> None:
    context = json.dumps({"request_id": request_id})
    response = app.post({"prompt": "Hi"}, headers={"x-amzn-lambda-context": context})
    assert response.status_code == 200
    assert re.fullmatch("[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("content_length", [b"abc", b"-1", b"+2", b"99999999999999999999999", b"2 2"])
def test_malformed_content_length_is_a_json_400(app: Harness, content_length: bytes) -> None:
    answer = raw_exchange(
        str(app.client.base_url),
        b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + content_length + b"\r\n\r\n{}",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    assert b"x-content-type-options: nosniff" in head.lower()
    assert json.loads(body)["code"] == "bad_request"


def test_client_leaving_before_its_body_arrives_is_no_error(
    app: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = str(app.client.base_url).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Content-Length promises 10 bytes; the client sends 2 and goes.
        sock.sendall(
            b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10\r\n\r\n{}"
        )
    deadline = time.monotonic() + 10
    while "abandoned by the client" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "abandoned by the client" in caplog.text
    assert "unhandled error" not in caplog.text
    assert app.runtime.requests == []
