"""The app's routes (`agent_api.app`): any other path is a JSON 404, never a redirect, and a wrong method a
JSON 405 naming the allowed methods, each in the words of the door whose paths it is on (OpenAI's under
`/v1/`, `/chat`'s elsewhere); every answer says `nosniff` (`agent_api.response_headers`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent_api import contract
from tests.agent_api.doors import Door, every_door
from tests.agent_api.harness import Harness, HarnessFactory
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream


@pytest.fixture
def app(harness: HarnessFactory) -> Harness:
    return harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])


def error_code(response: httpx.Response, openai_shape: bool) -> str:
    """The error code of a JSON error answer, checking its shape: OpenAI's, or `{"code", "message"}`."""
    body: dict[str, Any] = response.json()
    if openai_shape:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error"
        return str(body["error"]["code"])
    assert set(body) == {"code", "message"}
    return str(body["code"])


def test_health_answers_ok(app: Harness) -> None:
    response = app.client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("path", "openai_shape"),
    [
        ("/nope", False),
        ("/chat/", False),
        ("/chat//", False),
        ("/health/", False),
        ("/CHAT", False),
        ("/config.json/", False),
        ("/v1/completions", True),
        ("/v1/chat/completions/", True),
        ("/v1/chat/completions//", True),
        ("/v1/models/", True),
        ("/v1/responses/", True),
    ],
)
def test_unknown_path_is_a_json_404_never_a_redirect(app: Harness, path: str, openai_shape: bool) -> None:
    # Starlette's redirect to the path without its slash would build its Location from the Host header.
    body = {"prompt": "Hi"} if not openai_shape else {"model": "agent", "messages": []}
    response = app.client.post(path, json=body, headers={"host": "evil.example"})
    assert response.status_code == 404
    assert error_code(response, openai_shape) == "not_found"
    assert "location" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "allowed", "openai_shape"),
    [
        ("GET", contract.CHAT_PATH, {"POST"}, False),
        # `/` is the chat page (GET only): a prompt sent there is told the method is wrong, in JSON.
        ("POST", contract.PAGE_PATH, {"GET", "HEAD"}, False),
        ("POST", contract.PAGE_CONFIG_PATH, {"GET", "HEAD"}, False),
        ("POST", contract.HEALTH_PATH, {"GET", "HEAD"}, False),
        ("POST", contract.STATUS_PATH, {"GET", "HEAD"}, False),
        ("GET", contract.WARM_PATH, {"POST"}, False),
        ("GET", contract.OPENAI_CHAT_COMPLETIONS_PATH, {"POST"}, True),
        ("DELETE", contract.OPENAI_MODELS_PATH, {"GET", "HEAD"}, True),
    ],
)
def test_a_wrong_method_is_a_json_405_with_the_allowed_methods(
    app: Harness, method: str, path: str, allowed: set[str], openai_shape: bool
) -> None:
    response = app.client.request(method, path, json={"prompt": "Hi"})
    assert response.status_code == 405
    assert error_code(response, openai_shape) == "method_not_allowed"
    # RFC 9110, section 15.5.6: a 405 must carry Allow, the target's methods.
    assert set(response.headers["allow"].split(", ")) == allowed
    assert response.headers["x-content-type-options"] == "nosniff"


@every_door
def test_every_door_answers_with_nosniff(app: Harness, door: Door) -> None:
    # An error may repeat what the request sent (an unknown field's name): no answer may be read as HTML.
    answered = door.post(app.client, "Hi")
    refused = app.client.post(door.path, content=b"{", headers={"content-type": "application/json"})
    assert door.outcome(answered) == 200
    assert answered.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["x-content-type-options"] == "nosniff"
