"""Stored responses: `previous_response_id` continues any earlier response of the same caller, `store: false`
keeps nothing, `GET`/`DELETE /v1/responses/{id}`, each caller's own, and the S3 requests each costs (moto)."""

from __future__ import annotations

import boto3
import openai
import pytest
from strands.types.exceptions import SessionException

from agent_api import contract
from agent_api.conversation import ConversationDocument
from agent_api.doors.openai.responses_store import ResponseStore, response_key
from agent_api.errors import ReplyError
from local.tiny_model.script import PLAIN_TEXT as HELLO
from tests.agent_api.harness import HarnessFactory
from tests.agent_api.responses_support import sdk, validated_response
from tests.agent_api.session_support import S3Requests
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

MODEL = contract.OPENAI_MODEL_ID
CONTEXT = '{"identity": {"userArn": "arn:aws:iam::123456789012:user/%s"}}'


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def sent_text(app: object, call: int) -> str:
    return str(app.runtime.bodies[call]["messages"])  # type: ignore[attr-defined]


def test_previous_response_id_continues_that_response_and_any_earlier_one(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()] * 3, sessions_bucket=sessions_bucket)
    client = sdk(app)
    first = client.responses.create(model=MODEL, input="My name is Ada.")
    second = client.responses.create(model=MODEL, input="I live in Paris.", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert "My name is Ada." in sent_text(app, 1) and HELLO in sent_text(app, 1)
    # A branch from the first response: the second turn is not part of it.
    branch = client.responses.create(model=MODEL, input="What is my name?", previous_response_id=first.id)
    assert "My name is Ada." in sent_text(app, 2)
    assert "I live in Paris." not in sent_text(app, 2)
    assert len({first.id, second.id, branch.id}) == 3


def test_a_streamed_response_continues_and_is_continued(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()] * 3, sessions_bucket=sessions_bucket)
    client = sdk(app)
    with client.responses.stream(model=MODEL, input="My name is Ada.") as stream:
        first = stream.get_final_response()
    with client.responses.stream(
        model=MODEL, input="What is my name?", previous_response_id=first.id
    ) as stream:
        second = stream.get_final_response()
    client.responses.create(model=MODEL, input="And now?", previous_response_id=second.id)
    assert "My name is Ada." in sent_text(app, 2) and "What is my name?" in sent_text(app, 2)


def test_get_returns_the_stored_response_and_delete_removes_it(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    client = sdk(app)
    created = client.responses.create(model=MODEL, input="Hi")
    stored = app.client.get(f"{contract.OPENAI_RESPONSES_PATH}/{created.id}")
    assert stored.status_code == 200
    assert validated_response(stored.json()) == created
    assert client.responses.retrieve(created.id).output_text == HELLO
    deleted = app.client.delete(f"{contract.OPENAI_RESPONSES_PATH}/{created.id}")
    assert deleted.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model=MODEL, input="Hi", previous_response_id=created.id)
    assert (raised.value.code, raised.value.param) == ("previous_response_not_found", "previous_response_id")
    assert len(app.runtime.requests) == 1


def test_store_false_keeps_nothing_but_may_continue_a_stored_response(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    s3 = S3Requests()
    app = harness([hello()] * 3, sessions_bucket=sessions_bucket, boto_session=s3.session)
    client = sdk(app)
    kept = client.responses.create(model=MODEL, input="My name is Ada.")
    assert (kept.store, s3.take()) == (True, ["PutObject"])
    continued = client.responses.create(
        model=MODEL, input="Who am I?", previous_response_id=kept.id, store=False
    )
    assert (continued.store, s3.take()) == (False, ["GetObject"])
    assert "My name is Ada." in sent_text(app, 1)
    unkept = client.responses.create(model=MODEL, input="Hi", store=False)
    assert s3.take() == []
    for response_id in (continued.id, unkept.id):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(response_id)


def test_a_continued_response_costs_two_s3_requests_whatever_the_conversations_length(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    s3 = S3Requests()
    app = harness([hello()], sessions_bucket=sessions_bucket, boto_session=s3.session)
    client = sdk(app)
    previous = client.responses.create(model=MODEL, input="Turn 1")
    assert s3.take() == ["PutObject"]
    for turn in range(2, 12):
        previous = client.responses.create(
            model=MODEL, input=f"Turn {turn}", previous_response_id=previous.id
        )
        assert s3.take() == ["GetObject", "PutObject"]
    assert [request for request in s3.sent if request.on_event_loop] == []


def test_another_callers_response_is_unknown_as_any_id(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()] * 2, sessions_bucket=sessions_bucket)
    ada = sdk(app, **{"x-amzn-request-context": CONTEXT % "ada"})
    bob = sdk(app, **{"x-amzn-request-context": CONTEXT % "bob"})
    mine = ada.responses.create(model=MODEL, input="My name is Ada.")
    assert ada.responses.retrieve(mine.id).id == mine.id
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError) as raised:
        bob.responses.create(model=MODEL, input="What is her name?", previous_response_id=mine.id)
    assert raised.value.code == "previous_response_not_found"
    assert ada.responses.retrieve(mine.id).id == mine.id


def test_a_deployed_request_without_a_known_caller_may_not_store_or_read(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket, auth=contract.AUTH_IAM)
    client = sdk(app)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.responses.create(model=MODEL, input="Hi")
    assert raised.value.code == "session_owner_unknown"
    assert client.responses.create(model=MODEL, input="Hi", store=False).output_text == HELLO
    answer = app.client.get(f"{contract.OPENAI_RESPONSES_PATH}/resp_{'0' * 32}")
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "session_owner_unknown")


def test_without_a_sessions_bucket_nothing_is_stored_and_lookups_say_why(harness: HarnessFactory) -> None:
    app = harness([hello()])
    client = sdk(app)
    assert client.responses.create(model=MODEL, input="Hi").store is False
    for method in ("GET", "DELETE"):
        answer = app.client.request(method, f"{contract.OPENAI_RESPONSES_PATH}/resp_{'0' * 32}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "sessions_disabled")


def test_a_stored_response_is_not_streamed_again(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    created = sdk(app).responses.create(model=MODEL, input="Hi")
    answer = app.client.get(f"{contract.OPENAI_RESPONSES_PATH}/{created.id}", params={"stream": "true"})
    assert (answer.status_code, answer.json()["error"]["param"]) == (400, "stream")


# --- the store itself ------------------------------------------------------------------------------------
def test_a_response_over_the_size_limit_is_refused_and_not_stored(sessions_bucket: str) -> None:
    store = ResponseStore(sessions_bucket, boto3.client("s3"), max_bytes=1000)
    response = {"id": f"resp_{'1' * 32}", "output": [{"text": "x" * 1000}]}
    with pytest.raises(ReplyError) as raised:
        store.put("local", response, ConversationDocument("response"))
    assert (raised.value.reply.code, raised.value.reply.status) == ("response_too_large", 413)
    assert store.get("local", response["id"]) is None


def test_an_object_of_another_layout_is_refused_never_guessed_at(sessions_bucket: str) -> None:
    response_id = f"resp_{'2' * 32}"
    boto3.client("s3").put_object(
        Bucket=sessions_bucket, Key=response_key("local", response_id), Body=b'{"layout": "other"}'
    )
    with pytest.raises(SessionException):
        ResponseStore(sessions_bucket, boto3.client("s3")).get("local", response_id)


def test_ids_not_of_this_api_are_never_looked_up(sessions_bucket: str) -> None:
    s3 = S3Requests()
    store = ResponseStore(sessions_bucket, s3.session.client("s3"))
    assert store.get("local", "../sessions/x") is None
    assert store.delete("local", "resp_../x") is False
    assert s3.take() == []
