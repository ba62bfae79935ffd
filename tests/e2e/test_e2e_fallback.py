"""The local stack with a fallback model (`--fallback bedrock|endpoint`): an answer at once while the model
wakes, and the next turn the model's own.

The wiring tests run the stack's own agent API (`lambda/run.sh`) on a recorded stream, in a few seconds; the
e2e ones on real vLLM CPU, where the fallback (Bedrock's Converse through the emulator, or a second endpoint)
and the model are the same tiny model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from local.agent_environment import COMPONENT_NAME, ENDPOINT_NAME
from local.fallback import KINDS, LocalFallback
from local.stack import LocalDeployment
from local.tiny_model.script import CALLED_TOOL, TOOL_RESULT_TEXT
from tests.support.recordings import fixture_reply
from tests.support.scripted_server import ScriptedServer

OWN_MODEL = f"{ENDPOINT_NAME}/{COMPONENT_NAME}"
TIMEOUT = httpx.Timeout(10.0, read=120.0)


def turn(url: str, body: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    """One `/chat` turn's events, as (name, data)."""
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        connect_sse(client, "POST", f"{url}/chat", json=body) as source,
    ):
        assert source.response.status_code == 200
        return [(event.event, event.json()) for event in source.iter_sse()]


@pytest.fixture
def recorded_chat_server() -> Iterator[str]:
    # Both the container's /invocations and the chat completions Converse is answered from get this stream.
    with ScriptedServer(fixture_reply("vllm", "chat_stream_usage")) as server:
        yield server.url


@pytest.mark.parametrize("kind", KINDS)
def test_the_stacks_agent_api_answers_from_its_fallback_while_the_model_sleeps(
    recorded_chat_server: str, kind: str
) -> None:
    fallback = LocalFallback(kind)
    with LocalDeployment(
        backend_url=recorded_chat_server, tools="", cold_start_seconds=60, fallback=fallback
    ) as stack:
        events = turn(stack.agent_url, {"prompt": "Hello"})
        copies_asked = stack.emulator.components[COMPONENT_NAME].copy_count_requests

    assert events[0] == ("status", {"state": "fallback", "model": fallback.name})
    assert events[-1][0] == "done"
    assert events[-1][1]["model"] == fallback.name
    assert copies_asked == [1]


@pytest.mark.e2e
@pytest.mark.parametrize("kind", KINDS)
def test_a_session_is_answered_by_the_fallback_then_by_the_woken_model_which_reads_it(
    vllm_url: str, kind: str
) -> None:
    fallback = LocalFallback(kind)
    with LocalDeployment(backend_url=vllm_url, cold_start_seconds=3, fallback=fallback) as stack:
        # moto keeps its buckets for the whole process: a session id of this test's own.
        session_id = f"fallback-{kind}"
        first = turn(stack.agent_url, {"prompt": "What is the weather in Paris?", "session_id": session_id})
        deadline = time.monotonic() + 60
        while httpx.get(f"{stack.agent_url}/status", timeout=TIMEOUT).json()["state"] != "in_service":
            assert time.monotonic() < deadline, "no copy in service after 60 s"
            time.sleep(0.2)
        second = turn(stack.agent_url, {"prompt": "And tomorrow?", "session_id": session_id})
        copies_asked = stack.emulator.components[COMPONENT_NAME].copy_count_requests

    names = [name for name, _ in first]
    assert first[0] == ("status", {"state": "fallback", "model": fallback.name})
    assert [data["name"] for name, data in first if name == "tool_use"] == [CALLED_TOOL]
    assert names.index("tool_result") < names.index("text")
    assert first[-1][1]["model"] == fallback.name
    # The model answers from the weather the fallback's turn stored: it read the session, and calls no tool.
    assert [name for name, _ in second[:-1]] == ["text"] * (len(second) - 1)
    assert "".join(str(data["delta"]) for name, data in second if name == "text") == TOOL_RESULT_TEXT
    assert second[-1][1]["model"] == OWN_MODEL
    assert copies_asked == [1]
