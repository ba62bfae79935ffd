"""Every class of bad input gets a specific 4xx JSON error and never reaches the model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.agent_api.harness import Harness, HarnessFactory
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


def test_unknown_route_is_a_json_404(app: Harness) -> None:
    response = app.client.get("/nope")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_wrong_method_is_a_json_405(app: Harness) -> None:
    response = app.client.get("/chat")
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


def test_health_answers_ok(app: Harness) -> None:
    response = app.client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
