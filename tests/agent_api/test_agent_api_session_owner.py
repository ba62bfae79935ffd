"""A session belongs to its caller (issue 14 item 9), in a space of the caller's own (issue 25 item 1),
named by a request context that cannot be forged or left out (issue 25 item 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx_sse import connect_sse
from starlette.datastructures import Headers

from agent_api import contract
from agent_api.session_owner import LOCAL_OWNER, SessionOwnerUnknownError, owner_from_headers
from tests.agent_api.doors import Door, every_door
from tests.agent_api.harness import Harness, HarnessFactory
from tests.agent_api.session_support import roles_sent
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


def history(app: Harness) -> str:
    """The conversation the app last sent the model."""
    return str(app.runtime.bodies[-1]["messages"])


# --- one space per caller ----------------------------------------------------------------------------------


def test_the_same_id_names_another_session_for_another_caller(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    assert app.post({"prompt": "My name is Ada.", "session_id": "s"}, headers=iam(ADA_ARN)).status_code == 200
    other = app.post({"prompt": "What is her name?", "session_id": "s"}, headers=iam(BOB_ARN))
    assert other.status_code == 200
    assert "My name is Ada." not in history(app)
    assert roles_sent(app) == ["user"]  # Bob's session starts empty


def test_each_caller_continues_only_its_own_session(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "My name is Ada.", "session_id": "s"}, headers=iam(ADA_ARN))
    app.post({"prompt": "Ignore that.", "session_id": "s"}, headers=iam(BOB_ARN))
    assert app.post({"prompt": "Who am I?", "session_id": "s"}, headers=iam(ADA_ARN)).status_code == 200
    assert "My name is Ada." in history(app)
    assert "Ignore that." not in history(app)
    assert app.post({"prompt": "And me?", "session_id": "s"}, headers=iam(BOB_ARN)).status_code == 200
    assert "Ignore that." in history(app)
    assert "My name is Ada." not in history(app)


def test_a_guessable_id_taken_first_does_not_lock_its_owner_out(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    held = hello(pause_after=2)
    app = harness([hello(), held, hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "Mine now.", "session_id": "my-chat"}, headers=iam(BOB_ARN))
    body = {"prompt": "Still mine.", "session_id": "my-chat"}
    # Even while the squatter's turn holds the id, its owner is answered, from a session of its own.
    with connect_sse(app.client, "POST", "/chat", json=body, headers=iam(BOB_ARN)) as source:
        events = source.iter_sse()
        next(events)
        owner = app.post({"prompt": "Hello.", "session_id": "my-chat"}, headers=iam(ADA_ARN))
        held.resume.set()
        list(events)
    assert owner.status_code == 200
    assert "Mine now." not in history(app)


def test_another_callers_id_answers_exactly_as_an_unused_one(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "Hi", "session_id": "used"}, headers=iam(ADA_ARN))

    def probe(session_id: str) -> tuple[int, list[str], list[str]]:
        response = app.post({"prompt": "Probe", "session_id": session_id}, headers=iam(BOB_ARN))
        events = [
            line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event")
        ]
        return response.status_code, events, roles_sent(app)

    assert probe("used") == probe("unused")


def test_a_busy_session_is_busy_only_for_its_own_caller(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    held = hello(pause_after=2)
    app = harness([hello(), held, hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(ADA_ARN))
    body = {"prompt": "Again", "session_id": "s"}
    with connect_sse(app.client, "POST", "/chat", json=body, headers=iam(ADA_ARN)) as source:
        events = source.iter_sse()
        next(events)
        other = app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(BOB_ARN))
        owner_again = app.post({"prompt": "Hi", "session_id": "s"}, headers=iam(ADA_ARN))
        held.resume.set()
        list(events)
    assert other.status_code == 200
    assert owner_again.status_code == 409
    assert owner_again.json()["code"] == "session_busy"


def test_cognito_users_have_their_sessions_by_sub(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "I am Ada.", "session_id": "s"}, headers=cognito("sub-ada"))
    app.post({"prompt": "Hi", "session_id": "s"}, headers=cognito("sub-bob"))
    assert "I am Ada." not in history(app)
    app.post({"prompt": "Hi", "session_id": "s"}, headers=cognito("sub-ada"))
    assert "I am Ada." in history(app)


def test_locally_every_request_is_the_one_local_owner(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    app.post({"prompt": "My name is Ada.", "session_id": "s"})
    app.post({"prompt": "Who am I?", "session_id": "s"})
    assert "My name is Ada." in history(app)
    # A session made through API Gateway is another caller's: the local owner's "t" is its own.
    app.post({"prompt": "Through the gateway.", "session_id": "t"}, headers=iam(ADA_ARN))
    assert app.post({"prompt": "Hi", "session_id": "t"}).status_code == 200
    assert "Through the gateway." not in history(app)


# --- a request context that cannot be forged or left out ---------------------------------------------------


def test_a_request_carrying_the_context_twice_is_refused(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    # What a Web Adapter layer older than 18 forwarded: the client's own header first, then the real one.
    app = harness([hello()], sessions_bucket=sessions_bucket, auth=contract.AUTH_IAM)
    app.post({"prompt": "My name is Ada.", "session_id": "s"}, headers=iam(ADA_ARN))
    forged = [(HEADER, iam(ADA_ARN)[HEADER]), (HEADER.title(), iam(BOB_ARN)[HEADER])]
    response = app.post({"prompt": "What is my name?", "session_id": "s"}, headers=forged)
    assert response.status_code == 403
    assert response.json()["code"] == "session_owner_unknown"
    assert f"carries {HEADER} 2 times" in response.json()["message"]
    assert len(app.runtime.requests) == 1  # the forged prompt never reached the model


@every_door
def test_any_request_carrying_the_context_twice_is_refused_on_every_door(
    harness: HarnessFactory, door: Door
) -> None:
    # No session at stake, yet nothing the request says about its caller can be trusted: it is refused.
    app = harness([hello()], auth=contract.AUTH_IAM)
    forged = [(HEADER, iam(ADA_ARN)[HEADER]), (HEADER.title(), iam(BOB_ARN)[HEADER])]
    body = json.dumps(door.body("Hi", None)).encode()
    response = app.client.post(
        door.path, content=body, headers=[("content-type", "application/json"), *forged]
    )
    assert response.status_code == 403
    assert f"carries {HEADER} 2 times" in json.dumps(response.json())
    assert app.runtime.requests == []


@pytest.mark.parametrize("auth", [contract.AUTH_IAM, contract.AUTH_COGNITO])
def test_a_deployed_api_without_a_request_context_knows_no_caller(
    harness: HarnessFactory, sessions_bucket: str, auth: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket, auth=auth)
    response = app.post({"prompt": "Hi", "session_id": "s"})
    assert response.status_code == 403
    assert response.json()["code"] == "session_owner_unknown"
    assert "without API Gateway's request context" in response.json()["message"]
    assert app.runtime.requests == []
    # Without a session nobody's conversation is at stake: the request is answered.
    assert app.post({"prompt": "Hi"}).status_code == 200


def test_a_request_context_naming_no_caller_cannot_use_sessions(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    anonymous = {HEADER: json.dumps({"requestId": "r-1", "identity": {"sourceIp": "192.0.2.1"}})}
    response = app.post({"prompt": "Hi", "session_id": "s"}, headers=anonymous)
    assert response.status_code == 403
    assert response.json()["code"] == "session_owner_unknown"
    assert app.post({"prompt": "Hi"}, headers=anonymous).status_code == 200


@pytest.mark.parametrize(
    ("context", "owner"),
    [
        (
            {"identity": {"userArn": "arn:aws:iam::1:user/ada", "caller": "AIDA1"}},
            "iam:arn:aws:iam::1:user/ada",
        ),
        ({"identity": {"userArn": None, "caller": "AIDA1"}}, "iam:AIDA1"),
        ({"identity": {"userArn": None}, "authorizer": {"claims": {"sub": "u-1"}}}, "cognito:u-1"),
        ({"authorizer": {"jwt": {"claims": {"sub": "u-2"}, "scopes": None}}}, "cognito:u-2"),
        ({"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/bob"}}}, "iam:arn:aws:iam::1:user/bob"),
    ],
)
@pytest.mark.parametrize("auth", contract.AUTH_MODES)
def test_the_owner_comes_from_the_request_context(context: dict[str, object], owner: str, auth: str) -> None:
    assert owner_from_headers(Headers({HEADER: json.dumps(context)}), auth) == owner


def test_without_a_request_context_the_local_app_has_the_local_owner() -> None:
    assert owner_from_headers(Headers({}), contract.AUTH_NONE) == LOCAL_OWNER


@pytest.mark.parametrize("auth", contract.AUTH_MODES)
def test_a_repeated_request_context_names_no_owner_even_when_both_agree(auth: str) -> None:
    same = (HEADER.encode(), iam(ADA_ARN)[HEADER].encode())  # ASGI servers give header names lower-cased
    with pytest.raises(SessionOwnerUnknownError, match="2 times"):
        owner_from_headers(Headers(raw=[same, same]), auth)


@pytest.mark.parametrize(
    "raw", ["not json", "[]", '{"identity": {"sourceIp": "192.0.2.1"}}', '{"identity": 1}', '"PassThrough"']
)
def test_a_request_context_naming_no_caller_has_no_owner(raw: str) -> None:
    with pytest.raises(SessionOwnerUnknownError, match="names none"):
        owner_from_headers(Headers({HEADER: raw}), contract.AUTH_IAM)
