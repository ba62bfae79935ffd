"""The `mcp` SDK's own client, unmodified → the agent API's `/mcp` (the agent as an MCP server, its tool
`ask`) → Strands → emulator → vLLM CPU. (The agent calling MCP servers as its tools is test_e2e_mcp.py.)"""

import json
import uuid
from typing import Any

import pytest
from mcp.client import Client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from agent_api.doors import mcp_ask
from agent_api.tools import get_weather
from local.emulator import Invocation
from local.stack import EXAMPLE_PROMPT, LocalDeployment
from local.tiny_model.script import CALL_ARGUMENTS, CALLED_TOOL, PLAIN_TEXT, TOOL_RESULT_TEXT
from tests.support.mcp_client import MODES, run

pytestmark = pytest.mark.e2e

PROTOCOLS = dict(zip(MODES, (MODERN_PROTOCOL_VERSIONS, HANDSHAKE_PROTOCOL_VERSIONS), strict=True))
"""The protocol versions each client mode may settle on."""


@pytest.mark.parametrize("mode", MODES)
def test_the_client_lists_the_tool_ask_and_gets_the_tiny_models_answer(
    text_api: LocalDeployment, mode: str
) -> None:
    async def session(client: Client) -> tuple[str, Any, Any]:
        listed = await client.list_tools()
        return client.protocol_version, listed, await client.call_tool(mcp_ask.ASK, {"prompt": "Hello"})

    protocol, listed, result = run(text_api.agent_url, mode, session)

    assert protocol in PROTOCOLS[mode]
    [tool] = listed.tools
    assert tool.name == mcp_ask.ASK
    assert tool.input_schema["required"] == ["prompt"]
    assert set(tool.input_schema["properties"]) == {"prompt", "session_id"}  # the stack has sessions
    assert tool.output_schema == mcp_ask.OUTPUT_SCHEMA
    assert not result.is_error
    assert [block.text for block in result.content] == [PLAIN_TEXT]
    structured = result.structured_content
    assert (structured["answer"], structured["stop_reason"]) == (PLAIN_TEXT, "end_turn")
    assert (structured["session_id"], structured["tool_calls"]) == (None, [])
    assert structured["usage"]["input_tokens"] > 0 and structured["usage"]["output_tokens"] > 0


def test_ask_runs_the_agents_tool_and_reports_progress_as_it_goes(tools_api: LocalDeployment) -> None:
    notes: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, message))

    async def ask(client: Client) -> Any:
        return await client.call_tool(mcp_ask.ASK, {"prompt": EXAMPLE_PROMPT}, progress_callback=on_progress)

    result = run(tools_api.agent_url, "auto", ask)

    messages = [message for _, message in notes]
    assert messages[:2] == [f"calling {CALLED_TOOL}", f"{CALLED_TOOL}: success"]
    assert len(messages) > 3  # the answer streams in pieces
    assert "".join(message or "" for message in messages[2:]) == TOOL_RESULT_TEXT
    progress = [value for value, _ in notes]
    assert progress == sorted(set(progress))
    [call] = result.structured_content["tool_calls"]
    assert (call["name"], call["input"], call["status"]) == (CALLED_TOOL, CALL_ARGUMENTS, "success")
    assert call["content"] == get_weather(**CALL_ARGUMENTS)
    assert result.structured_content["answer"] == TOOL_RESULT_TEXT


def test_a_session_id_continues_the_conversation_across_calls_of_either_protocol(
    text_api: LocalDeployment, text_model_calls: list[Invocation]
) -> None:
    session_id = f"e2e-mcp-{uuid.uuid4().hex}"

    def ask(mode: str, prompt: str) -> Any:
        arguments = {"prompt": prompt, "session_id": session_id}
        return run(text_api.agent_url, mode, lambda client: client.call_tool(mcp_ask.ASK, arguments))

    first, second = ask("legacy", "My name is Ada."), ask("auto", "What is my name?")

    assert [result.structured_content["session_id"] for result in (first, second)] == [session_id] * 2
    assert second.structured_content["answer"] == PLAIN_TEXT
    assert len(text_model_calls) == 2
    sent = json.dumps(json.loads(text_model_calls[1].body)["messages"])
    assert sent.index("My name is Ada.") < sent.index(PLAIN_TEXT) < sent.index("What is my name?")


def test_bad_arguments_are_a_tool_error_the_callers_model_can_read(
    text_api: LocalDeployment, text_model_calls: list[Invocation]
) -> None:
    result = run(text_api.agent_url, "auto", lambda client: client.call_tool(mcp_ask.ASK, {"prompt": ""}))

    assert result.is_error
    assert result.content[0].text.startswith("invalid_field: ")
    assert text_model_calls == []
