"""Sessions through the app: continuation via Strands' S3SessionManager on moto, and one turn at a time."""

from __future__ import annotations

import time

import boto3
import httpx
from httpx_sse import connect_sse

from local.tiny_model.script import PLAIN_TEXT as HELLO
from tests.agent_api.harness import HarnessFactory
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def test_done_event_names_the_session(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello()], sessions_bucket=sessions_bucket)
    events = app.chat({"prompt": "Hi", "session_id": "conv-1"})
    assert events[-1].json()["session_id"] == "conv-1"


def test_a_second_call_continues_the_conversation(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    app.chat({"prompt": "My name is Ada.", "session_id": "conv-1"})
    app.chat({"prompt": "What is my name?", "session_id": "conv-1"})
    history = str(app.runtime.bodies[1]["messages"])
    assert "My name is Ada." in history
    assert HELLO in history
    assert "What is my name?" in history


def test_the_conversation_survives_a_new_app_instance(harness: HarnessFactory, sessions_bucket: str) -> None:
    harness([hello()], sessions_bucket=sessions_bucket).chat({"prompt": "My name is Ada.", "session_id": "c"})
    second = harness([hello()], sessions_bucket=sessions_bucket)
    second.chat({"prompt": "What is my name?", "session_id": "c"})
    assert "My name is Ada." in str(second.runtime.bodies[0]["messages"])


def test_different_sessions_do_not_share_history(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    app.chat({"prompt": "My name is Ada.", "session_id": "conv-1"})
    app.chat({"prompt": "What is my name?", "session_id": "conv-2"})
    assert "My name is Ada." not in str(app.runtime.bodies[1]["messages"])


def test_calls_without_a_session_keep_no_history(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    app.chat({"prompt": "My name is Ada."})
    app.chat({"prompt": "What is my name?"})
    assert "My name is Ada." not in str(app.runtime.bodies[1]["messages"])
    assert boto3.client("s3").list_objects_v2(Bucket=sessions_bucket).get("KeyCount") == 0


def test_a_concurrent_call_on_a_busy_session_gets_409(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    with connect_sse(app.client, "POST", "/chat", json={"prompt": "Hi", "session_id": "s"}) as source:
        events = source.iter_sse()
        next(events)
        second = app.post({"prompt": "Again", "session_id": "s"})
        held.resume.set()
        list(events)
    assert second.status_code == 409
    assert second.json()["code"] == "session_busy"


def test_the_rejected_turn_is_not_recorded(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    with connect_sse(app.client, "POST", "/chat", json={"prompt": "First", "session_id": "s"}) as source:
        events = source.iter_sse()
        next(events)
        app.post({"prompt": "Rejected", "session_id": "s"})
        held.resume.set()
        list(events)
    app.chat({"prompt": "Third", "session_id": "s"})
    history = str(app.runtime.bodies[-1]["messages"])
    assert "First" in history
    assert "Rejected" not in history


def test_the_session_is_free_as_soon_as_done_arrives(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    app.chat({"prompt": "Hi", "session_id": "s"})
    assert app.post({"prompt": "Again", "session_id": "s"}).status_code == 200


def test_other_sessions_are_not_blocked(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    with connect_sse(app.client, "POST", "/chat", json={"prompt": "Hi", "session_id": "a"}) as source:
        events = source.iter_sse()
        next(events)
        other = app.post({"prompt": "Hi", "session_id": "b"})
        held.resume.set()
        list(events)
    assert other.status_code == 200


def test_a_disconnected_client_releases_the_session(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    with (
        httpx.Client(base_url=str(app.client.base_url), timeout=10) as client,
        connect_sse(client, "POST", "/chat", json={"prompt": "Hi", "session_id": "s"}) as source,
    ):
        next(source.iter_sse())
    # The client is gone while the model is still held; the server must notice and let the session go.
    deadline = time.monotonic() + 10
    status = 409
    while status == 409 and time.monotonic() < deadline:
        status = app.post({"prompt": "Again", "session_id": "s"}).status_code
        time.sleep(0.1)
    held.resume.set()
    assert status == 200
