"""The official `openai` SDK, unmodified → the agent API's `/v1` routes → Strands → emulator → vLLM CPU."""

import uuid

import openai
import pytest

from agent_api import contract
from local.stack import LocalDeployment
from local.tiny_model.script import CALLED_TOOL, PLAIN_TEXT, TOOL_RESULT_TEXT
from tests.support.openai_sdk import openai_client

pytestmark = pytest.mark.e2e


def client(stack: LocalDeployment, **headers: str) -> openai.OpenAI:
    # The local stack has no authentication: any API key does.
    return openai_client(stack.agent_url, **headers)


def test_the_sdk_streams_an_answer_with_usage(text_api: LocalDeployment) -> None:
    stream = client(text_api).chat.completions.create(
        model=contract.OPENAI_MODEL_ID,
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(texts) == PLAIN_TEXT
    assert len(texts) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens > 0
    assert chunks[-1].usage.completion_tokens > 0


def test_the_sdk_gets_a_whole_answer(text_api: LocalDeployment) -> None:
    completion = client(text_api).chat.completions.create(
        model=contract.OPENAI_MODEL_ID,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": PLAIN_TEXT},
            {"role": "user", "content": "Hello"},
        ],
    )

    assert completion.choices[0].message.content == PLAIN_TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_the_sdk_lists_the_agent_as_its_model(text_api: LocalDeployment) -> None:
    assert [model.id for model in client(text_api).models.list()] == [contract.OPENAI_MODEL_ID]


def test_tool_calls_run_on_the_server_and_show_as_agent_events(tools_api: LocalDeployment) -> None:
    chunks = list(
        client(tools_api).chat.completions.create(
            model=contract.OPENAI_MODEL_ID,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            stream=True,
        )
    )

    events = [
        c.model_extra["agent_event"] for c in chunks if c.model_extra and "agent_event" in c.model_extra
    ]
    assert [(e["type"], e["name"]) for e in events] == [
        ("tool_use", CALLED_TOOL),
        ("tool_result", CALLED_TOOL),
    ]
    assert events[1]["status"] == "success"
    assert all(c.choices[0].delta.tool_calls is None for c in chunks if c.choices)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TOOL_RESULT_TEXT


def test_a_session_header_continues_the_stored_conversation(text_api: LocalDeployment) -> None:
    session = client(text_api, **{contract.SESSION_ID_HEADER: f"e2e-openai-{uuid.uuid4().hex}"})

    def ask() -> int:
        completion = session.chat.completions.create(
            model=contract.OPENAI_MODEL_ID, messages=[{"role": "user", "content": "Hello"}]
        )
        assert completion.usage is not None
        return completion.usage.prompt_tokens

    first, second = ask(), ask()

    # The second turn sends the first exchange again, from the stored session, so the model reads more tokens.
    assert second > first
