"""A client that leaves is noticed at once, before the first event as well as during the stream."""

from __future__ import annotations

import httpx
from httpx_sse import connect_sse

from tests.agent_api.harness import Harness, HarnessFactory, wait_until
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream


def next_turn_status(app: Harness) -> int:
    """The status of the next turn on session "s", sent again while it is refused as busy (10 s at most)."""
    statuses: list[int] = []

    def answered() -> bool:
        statuses.append(app.post({"prompt": "Again", "session_id": "s"}).status_code)
        return statuses[-1] != 409

    wait_until(answered)
    return statuses[-1]


def test_a_client_leaving_before_the_first_event_frees_its_session_at_once(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    # The model holds its whole answer: no event can reach the client before it leaves.
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=0)
    app = harness(
        [held, Stream(fixture_parts("vllm/chat_stream_usage.txt"))], sessions_bucket=sessions_bucket
    )
    app.leave_once_the_model_is_called({"prompt": "Hi", "session_id": "s"})
    # The model is still holding: only a turn cancelled by the disconnect has let the session go.
    assert next_turn_status(app) == 200
    assert not held.resume.is_set()


def test_a_client_leaving_during_the_stream_frees_its_session(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness(
        [held, Stream(fixture_parts("vllm/chat_stream_usage.txt"))], sessions_bucket=sessions_bucket
    )
    with (
        httpx.Client(base_url=str(app.client.base_url), timeout=10) as client,
        connect_sse(client, "POST", "/chat", json={"prompt": "Hi", "session_id": "s"}) as source,
    ):
        next(source.iter_sse())
    assert next_turn_status(app) == 200
