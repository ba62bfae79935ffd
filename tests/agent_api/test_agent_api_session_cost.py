"""Issue 15: a session turn costs the same S3 requests at turn 40 as at turn 2, and none on the event loop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.agent_api.harness import HarnessFactory
from tests.agent_api.session_support import S3Requests
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

# Lock, read the conversation, write it back, unlock.
ONE_TURN = ["PutObject", "GetObject", "PutObject", "DeleteObject"]


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def test_turn_40_costs_the_same_s3_requests_as_turn_2(harness: HarnessFactory, sessions_bucket: str) -> None:
    s3 = S3Requests()
    app = harness([hello()], sessions_bucket=sessions_bucket, boto_session=s3.session)
    per_turn = []
    for turn in range(1, 41):
        app.chat({"prompt": f"Turn {turn}", "session_id": "long"})
        per_turn.append(s3.take())
    assert per_turn[0] == ONE_TURN  # a new session: the read finds nothing, the write creates it
    assert per_turn[1] == ONE_TURN
    assert per_turn[39] == ONE_TURN
    # Past the conversation window (40 messages, reached at turn 20) the history sent stops growing too.
    assert len(app.runtime.bodies[39]["messages"]) == len(app.runtime.bodies[29]["messages"])


def test_a_turn_without_a_session_makes_no_s3_request(harness: HarnessFactory, sessions_bucket: str) -> None:
    s3 = S3Requests()
    app = harness([hello()], sessions_bucket=sessions_bucket, boto_session=s3.session)
    app.chat({"prompt": "Hi"})
    assert s3.take() == []


def test_s3_calls_of_16_concurrent_session_turns_run_off_the_event_loop(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    # Issue 14 item 8: S3 I/O on the loop thread stalls every other request (/health took 1.6-2.0 s).
    s3 = S3Requests()
    app = harness([hello()], sessions_bucket=sessions_bucket, boto_session=s3.session)

    def turn(index: int) -> int:
        with httpx.Client(base_url=str(app.client.base_url), timeout=30) as client:
            body = {"prompt": "Hi", "session_id": f"c{index}"}
            with client.stream("POST", "/chat", json=body) as response:
                response.read()
                return response.status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(turn, range(16)))
    assert statuses == [200] * 16
    assert len(s3.sent) == 16 * len(ONE_TURN)
    assert [request for request in s3.sent if request.on_event_loop] == []
