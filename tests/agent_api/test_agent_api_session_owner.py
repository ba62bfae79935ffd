"""Issue 14 item 9: a session belongs to its caller, named by the request context the Web Adapter forwards."""

from __future__ import annotations

import json
from typing import Any

from httpx_sse import connect_sse

from tests.agent_api.harness import HarnessFactory
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

# The header and shapes of API Gateway's request context as the Lambda Web Adapter forwards it
# (aws-lambda-web-adapter docs "Request & Lambda Context"; REST API `identity` and Cognito `authorizer`).
HEADER = "x-amzn-request-context"
ADA_ARN = "arn:aws:sts::123456789012:assumed-role/analyst/ada"
BOB_ARN = "arn:aws:sts::123456789012:assumed-role/analyst/bob"


def iam(user_arn: str) -> dict[str, str]:
    context = {"requestId": "r-1", "identity": {"userArn": user_arn, "caller": "AROAEXAMPLE:ada"}}
    return {HEADER: json.dumps(context)}


def cognito(sub: str) -> dict[str, str]:
    context = {"requestId": "r-1", "identity": {"userArn": None}, "authorizer": {"claims": {"sub": sub}}}
    return {HEADER: json.dumps(context)}


def hello(**kwargs: Any) -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"), **kwargs)


def test_another_iam_caller_gets_404_for_a_session(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    assert app.post({"prompt": "My name is Ada.", "session_id": "s"}, headers=iam(ADA_ARN)).status_code == 200
    stranger = app.post({"prompt": "What is her name?", "session_id": "s"}, headers=iam(BOB_ARN))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "session_not_found"
    assert len(app.runtime.requests) == 1  # the stranger's prompt never reached the model


def test_the_owner_continues_after_a_stranger_was_refused(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "My name is Ada.", "session_id": "s"}, headers=iam(ADA_ARN))
    app.post({"prompt": "Ignore that.", "session_id": "s"}, headers=iam(BOB_ARN))
    assert app.post({"prompt": "Who am I?", "session_id": "s"}, headers=iam(ADA_ARN)).status_code == 200
    history = str(app.runtime.bodies[-1]["messages"])
    assert "My name is Ada." in history
    assert "Ignore that." not in history


def test_cognito_users_own_their_sessions_by_sub(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    assert app.post({"prompt": "Hi", "session_id": "s"}, headers=cognito("sub-ada")).status_code == 200
    assert app.post({"prompt": "Hi", "session_id": "s"}, headers=cognito("sub-bob")).status_code == 404
    assert app.post({"prompt": "Hi", "session_id": "s"}, headers=cognito("sub-ada")).status_code == 200


def test_a_stranger_gets_404_not_409_while_the_owner_is_answered(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    held = hello(pause_after=2)
    app = harness([hello(), held, hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(ADA_ARN))
    body = {"prompt": "Again", "session_id": "s"}
    with connect_sse(app.client, "POST", "/chat", json=body, headers=iam(ADA_ARN)) as source:
        events = source.iter_sse()
        next(events)
        stranger = app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(BOB_ARN))
        owner_again = app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(ADA_ARN))
        held.resume.set()
        list(events)
    assert stranger.status_code == 404
    assert owner_again.status_code == 409


def test_a_request_context_naming_no_caller_cannot_use_sessions(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    anonymous = {HEADER: json.dumps({"requestId": "r-1", "identity": {"sourceIp": "192.0.2.1"}})}
    response = app.post({"prompt": "Hi", "session_id": "s"}, headers=anonymous)
    assert response.status_code == 403
    assert response.json()["code"] == "session_owner_unknown"
    assert app.post({"prompt": "Hi"}, headers=anonymous).status_code == 200


def test_locally_every_request_is_the_one_local_owner(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "My name is Ada.", "session_id": "s"})
    assert app.post({"prompt": "Who am I?", "session_id": "s"}).status_code == 200
    # A session made through API Gateway is not the local owner's.
    assert app.post({"prompt": "Hi", "session_id": "t"}, headers=iam(ADA_ARN)).status_code == 200
    assert app.post({"prompt": "Hi", "session_id": "t"}).status_code == 404
