"""Issue 14 item 4: a turn that fails or is cancelled leaves the stored session exactly as it was."""

from __future__ import annotations

import time

import httpx
from httpx_sse import connect_sse

from local.emulator import Faults
from tests.agent_api.harness import Harness, HarnessFactory
from tests.agent_api.session_support import roles_sent
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import ModelError, Step, Stream, Throttle

FIRST, LOST, NEXT = "My name is Ada.", "This prompt failed.", "What is my name?"


def hello(**kwargs: int) -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"), **kwargs)


def assert_only_the_answered_turns_were_kept(app: Harness) -> None:
    app.chat({"prompt": NEXT, "session_id": "s"})
    history = str(app.runtime.bodies[-1]["messages"])
    assert FIRST in history
    assert LOST not in history
    assert roles_sent(app) == ["user", "assistant", "user"]


def session_with_a_failure(harness: HarnessFactory, bucket: str, *failure: Step) -> Harness:
    app = harness([hello(), *failure, hello()], sessions_bucket=bucket)
    app.chat({"prompt": FIRST, "session_id": "s"})
    return app


def test_a_throttled_turn_is_not_stored(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = session_with_a_failure(harness, sessions_bucket, Throttle(), Throttle())
    assert app.post({"prompt": LOST, "session_id": "s"}).status_code == 429
    assert_only_the_answered_turns_were_kept(app)


def test_a_turn_failing_before_any_output_is_not_stored(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = session_with_a_failure(harness, sessions_bucket, ModelError(500, '{"error": "boom"}'))
    assert app.post({"prompt": LOST, "session_id": "s"}).status_code == 502
    assert_only_the_answered_turns_were_kept(app)


def test_a_turn_failing_mid_stream_is_not_stored(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = session_with_a_failure(harness, sessions_bucket, hello())
    app.runtime.emulator.set_faults(Faults(stream_error_after_bytes=1000))
    events = app.chat({"prompt": LOST, "session_id": "s"})
    names = [event.event for event in events]
    assert (names[0], names[-1]) == ("text", "error")
    app.runtime.emulator.set_faults(Faults())
    assert_only_the_answered_turns_were_kept(app)


def test_a_cancelled_turn_is_not_stored(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = hello(pause_after=2)
    app = session_with_a_failure(harness, sessions_bucket, held)
    with (
        httpx.Client(base_url=str(app.client.base_url), timeout=10) as client,
        connect_sse(client, "POST", "/chat", json={"prompt": LOST, "session_id": "s"}) as source,
    ):
        next(source.iter_sse())
    # The client left mid-answer; the next turn may start once the server has let the session go. The
    # model's answer stays held until then, so the turn can only end by being cancelled (were it let go
    # first, the answer could complete, and be kept, before the server noticed the client had left).
    deadline = time.monotonic() + 10
    while app.post({"prompt": "probe", "session_id": "s"}).status_code == 409:
        assert time.monotonic() < deadline, "the session was never released"
        time.sleep(0.1)
    held.resume.set()
    history = str(app.runtime.bodies[-1]["messages"])
    assert FIRST in history
    assert LOST not in history
    assert roles_sent(app) == ["user", "assistant", "user"]
