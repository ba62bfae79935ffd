"""The unmodified `openai` SDK, given `SigV4HttpxAuth`, sends requests an IAM-authorized API accepts."""

from __future__ import annotations

import json

import boto3
import httpx
import openai
import pytest

from agent_client.api import ClientFailure
from agent_client.openai_auth import SigV4HttpxAuth
from tests.client.sigv4_check import expected_authorization_signature
from tests.support.scripted_server import Reply, ScriptedServer

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "agent",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "42"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
}


def signed_client(api: ScriptedServer, region: str = "eu-west-1") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{api.url}/v1/v1",
        api_key="iam",
        max_retries=0,
        http_client=httpx.Client(auth=SigV4HttpxAuth(boto3.Session(), region)),
    )


def test_a_completion_request_is_signed_for_execute_api(api: ScriptedServer) -> None:
    api.reply = Reply([json.dumps(COMPLETION).encode()], chunked=False)

    completion = signed_client(api).chat.completions.create(
        model="agent", messages=[{"role": "user", "content": "What is 6 times 7?"}]
    )

    assert completion.choices[0].message.content == "42"
    received = api.received[0]
    authorization = received.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "Bearer" not in authorization
    assert received.headers["X-Amz-Security-Token"] == "session-token"
    url = f"{api.url}/v1/v1/chat/completions"
    assert authorization.endswith(
        f"Signature={expected_authorization_signature(received, url, 'eu-west-1', {'content-type'})}"
    )


def test_a_get_without_a_body_is_signed_too(api: ScriptedServer) -> None:
    api.reply = Reply([b'{"object": "list", "data": []}'], chunked=False)

    signed_client(api).models.list()

    received = api.received[0]
    signature = expected_authorization_signature(received, f"{api.url}/v1/v1/models", "eu-west-1", set())
    assert (received.method, received.body) == ("GET", b"")
    assert received.headers["Authorization"].endswith(f"Signature={signature}")


def test_signing_without_credentials_is_a_clear_error(
    api: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)

    # The SDK reports any failure of its HTTP client as a connection error, caused by ours.
    with pytest.raises(openai.APIConnectionError) as caught:
        signed_client(api).models.list()
    assert isinstance(caught.value.__cause__, ClientFailure)
    assert "no AWS credentials found" in str(caught.value.__cause__)
    assert api.received == []
