"""The session store on moto's S3: conditional writes, the size limit, the layout, and who owns a session."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from httpx_sse import connect_sse
from strands import Agent
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.session.repository_session_manager import RepositorySessionManager
from strands.types.exceptions import SessionException

from agent_api.conversation import LAYOUT, ConversationDocument
from agent_api.observability import logger
from agent_api.session_owner import LOCAL_OWNER, owner_digest
from agent_api.sessions import (
    LOCK_PREFIX,
    SessionBusyError,
    SessionConflictError,
    SessionStore,
    SessionTooLargeError,
    session_object_key,
)
from tests.agent_api.harness import HarnessFactory
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream


@pytest.fixture
def store(sessions_bucket: str) -> SessionStore:
    return SessionStore(sessions_bucket, boto3.client("s3"))


def stored(bucket: str, session_id: str, owner: str = LOCAL_OWNER) -> bytes:
    key = session_object_key(owner, session_id)
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def talk(store: SessionStore, session_id: str, *texts: str, owner: str = LOCAL_OWNER) -> None:
    """One saved turn: a user message per text."""
    lease = store.open(session_id, owner)
    manager = lease.session_manager()
    agent = Agent(session_manager=manager, callback_handler=None)
    for text in texts:
        manager.append_message({"role": "user", "content": [{"text": text}]}, agent)
    lease.save()
    lease.release()


def test_a_saved_session_is_one_object_of_the_layout(store: SessionStore, sessions_bucket: str) -> None:
    talk(store, "s", "Hello")
    listed = boto3.client("s3").list_objects_v2(Bucket=sessions_bucket)
    assert [item["Key"] for item in listed["Contents"]] == [session_object_key(LOCAL_OWNER, "s")]
    document = json.loads(stored(sessions_bucket, "s"))
    assert document["layout"] == LAYOUT
    assert [m["message"]["content"][0]["text"] for m in document["agents"]["default"]["messages"]] == [
        "Hello"
    ]


def test_a_write_after_the_session_changed_is_refused(store: SessionStore, sessions_bucket: str) -> None:
    talk(store, "s", "Hello")
    lease = store.open("s", LOCAL_OWNER)
    lease.release()
    talk(store, "s", "Meanwhile")  # another writer (e.g. after a lock takeover) saves first
    after_other = stored(sessions_bucket, "s")
    with pytest.raises(SessionConflictError):
        lease.save()
    assert stored(sessions_bucket, "s") == after_other


def test_a_new_session_created_meanwhile_is_not_overwritten(
    store: SessionStore, sessions_bucket: str
) -> None:
    lease = store.open("new", LOCAL_OWNER)
    lease.release()
    talk(store, "new", "First")
    with pytest.raises(SessionConflictError):
        lease.save()
    assert b"First" in stored(sessions_bucket, "new")


def test_a_session_over_the_limit_is_refused_and_left_as_it_was(sessions_bucket: str) -> None:
    store = SessionStore(sessions_bucket, boto3.client("s3"), max_bytes=4096)
    talk(store, "s", "Hello")
    before = stored(sessions_bucket, "s")
    with pytest.raises(SessionTooLargeError):
        talk(store, "s", "x" * 5000)
    assert stored(sessions_bucket, "s") == before


def test_an_object_of_another_layout_is_refused_and_the_lock_released(
    store: SessionStore, sessions_bucket: str
) -> None:
    key = session_object_key(LOCAL_OWNER, "s")
    boto3.client("s3").put_object(Bucket=sessions_bucket, Key=key, Body=b'{"messages": []}')
    with pytest.raises(SessionException, match=f"not a {LAYOUT} document"):
        store.open("s", LOCAL_OWNER)
    assert boto3.client("s3").list_objects_v2(Bucket=sessions_bucket, Prefix=LOCK_PREFIX)["KeyCount"] == 0


ADA = "iam:arn:aws:sts::123456789012:assumed-role/analyst/ada"
BOB = "iam:arn:aws:sts::123456789012:assumed-role/analyst/bob"


def test_each_owner_has_a_space_of_its_own_named_by_a_digest(
    store: SessionStore, sessions_bucket: str
) -> None:
    talk(store, "s", "Hi from Ada", owner=ADA)
    talk(store, "s", "Hi from Bob", owner=BOB)
    listed = boto3.client("s3").list_objects_v2(Bucket=sessions_bucket)
    assert sorted(item["Key"] for item in listed["Contents"]) == sorted(
        f"sessions/{owner_digest(owner)}/s.json" for owner in (ADA, BOB)
    )
    assert b"Hi from Ada" in stored(sessions_bucket, "s", ADA)
    assert b"Hi from Ada" not in stored(sessions_bucket, "s", BOB)
    # No caller ARN or user id in a key, its metadata or the stored conversation.
    for item in listed["Contents"]:
        assert "ada" not in item["Key"]
        head = boto3.client("s3").head_object(Bucket=sessions_bucket, Key=item["Key"])
        assert head["Metadata"] == {}
    assert b"assumed-role" not in stored(sessions_bucket, "s", ADA)


def test_a_held_session_does_not_hold_another_owners_session_of_the_same_id(store: SessionStore) -> None:
    held = store.open("s", ADA)
    other = store.open("s", BOB)
    assert other.lock_key != held.lock_key
    with pytest.raises(SessionBusyError):
        store.open("s", ADA)
    other.release()
    held.release()


def test_messages_the_conversation_manager_dropped_are_not_stored() -> None:
    document = ConversationDocument("s")
    manager = RepositorySessionManager(session_id="s", session_repository=document)
    agent = Agent(session_manager=manager, conversation_manager=SlidingWindowConversationManager(4))
    for turn in range(5):
        for role, text in (("user", f"q{turn}"), ("assistant", f"a{turn}")):
            agent.messages.append({"role": role, "content": [{"text": text}]})  # type: ignore[typeddict-item]
            manager.append_message(agent.messages[-1], agent)
    agent.conversation_manager.apply_management(agent)
    manager.sync_agent(agent)
    saved = json.loads(document.to_json())["agents"]["default"]["messages"]
    assert [m["message"]["content"][0]["text"] for m in saved] == ["q3", "a3", "q4", "a4"]
    loaded = ConversationDocument.from_json("s", document.to_json())
    restored = Agent(session_manager=RepositorySessionManager(session_id="s", session_repository=loaded))
    assert [m["content"][0]["text"] for m in restored.messages] == ["q3", "a3", "q4", "a4"]


def test_a_turn_that_lost_a_race_ends_with_session_conflict_and_overwrites_nothing(
    harness: HarnessFactory, sessions_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", logs)
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness(
        [Stream(fixture_parts("vllm/chat_stream_usage.txt")), held], sessions_bucket=sessions_bucket
    )
    app.chat({"prompt": "Hello", "session_id": "s"})
    with connect_sse(app.client, "POST", "/chat", json={"prompt": "Again", "session_id": "s"}) as source:
        events = source.iter_sse()
        next(events)
        # Another writer (a turn that took over an expired lock) saves while this turn is answering.
        meanwhile = json.dumps(json.loads(stored(sessions_bucket, "s")), indent=1).encode()
        boto3.client("s3").put_object(
            Bucket=sessions_bucket, Key=session_object_key(LOCAL_OWNER, "s"), Body=meanwhile
        )
        held.resume.set()
        last = list(events)[-1]
    assert (last.event, last.json()["code"]) == ("error", "session_conflict")
    assert stored(sessions_bucket, "s") == meanwhile
    # The failed save is the turn's one end line: the answer it could not keep is not also "finished".
    ends = [
        json.loads(line)["message"]
        for line in logs.getvalue().splitlines()
        if line.startswith("{") and json.loads(line).get("message", "").startswith("chat turn ")
    ]
    assert ends == ["chat turn finished", "chat turn failed"]
