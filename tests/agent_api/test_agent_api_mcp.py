"""MCP servers as tool sources: real `mcp` SDK servers on 127.0.0.1, the app under uvicorn, a scripted model.

The model's requests (recorded by the SageMaker runtime) show which tools it was offered and what each tool's
result told it; the stream shows the calls, their results and the warnings.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import socket
import threading

import pytest
from mcp.server.mcpserver import MCPServer

from agent_api.mcp_servers import McpServer
from local.mcp_example import McpHttpServer, example_app
from local.vllm_server import free_port
from tests.agent_api.harness import HarnessFactory, json_lines, total, wait_until
from tests.agent_api.mcp_support import (
    AFTER_TOOL,
    FORECAST,
    StartServer,
    call,
    followup,
    logged,
    named,
    offered,
    servers,
    told,
)
from tests.support.mcp_servers import PNG, serve_mcp, tool_server
from tests.support.openai_sdk import openai_client
from tests.support.sagemaker_runtime import ModelError


@pytest.mark.parametrize(("legacy", "version"), [(False, "2026-07-28"), (True, "2025-11-25")])
def test_an_mcp_tool_is_called_and_the_model_is_given_its_result(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO, legacy: bool, version: str
) -> None:
    server = mcp(McpHttpServer(functools.partial(example_app, legacy=legacy)))
    app = harness(
        [call("get_forecast", city="Paris", days=2), followup()], **servers(McpServer("example", server.url))
    )

    events = app.chat({"prompt": "What is the forecast for Paris?"})

    assert offered(app) == ["current_time", "calculator", "get_forecast"]
    [tool_use], [tool_result] = named(events, "tool_use"), named(events, "tool_result")
    assert (tool_use["name"], tool_use["input"]) == ("get_forecast", {"city": "Paris", "days": 2})
    assert (tool_result["status"], tool_result["content"]) == ("success", FORECAST)
    assert told(app) == FORECAST
    assert events[-1].event == "done"
    # The stateless protocol where the server speaks it, else a session (the legacy handshake).
    [connected] = logged(logs, "MCP server connected")
    assert (connected["tool_source"], connected["protocol_version"]) == ("example", version)


def test_the_connection_is_made_once_and_kept_for_later_turns(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO
) -> None:
    server = mcp(McpHttpServer(example_app))
    app = harness(
        [call("get_forecast", city="Tokyo"), followup()] * 2, **servers(McpServer("example", server.url))
    )

    first, second = (app.chat({"prompt": "What is the forecast for Tokyo?"}) for _ in range(2))

    assert named(first, "tool_result")[0]["content"] == named(second, "tool_result")[0]["content"]
    assert len(logged(logs, "MCP server connected")) == 1


def test_the_openai_door_runs_mcp_tools_too(harness: HarnessFactory, mcp: StartServer) -> None:
    server = mcp(McpHttpServer(example_app))
    app = harness(
        [call("get_forecast", city="Paris", days=2), followup()] * 2,
        **servers(McpServer("example", server.url)),
    )
    client = openai_client(str(app.client.base_url))

    whole = client.chat.completions.create(model="agent", messages=[{"role": "user", "content": "Forecast?"}])
    chunks = list(
        client.chat.completions.create(
            model="agent", messages=[{"role": "user", "content": "Forecast?"}], stream=True
        )
    )

    events = whole.model_extra["agent_events"]  # type: ignore[index]
    assert [(e["type"], e["name"]) for e in events] == [
        ("tool_use", "get_forecast"),
        ("tool_result", "get_forecast"),
    ]
    assert events[1]["content"] == FORECAST
    assert whole.choices[0].message.content == AFTER_TOOL
    streamed = [
        chunk.model_extra["agent_event"] for chunk in chunks if (chunk.model_extra or {}).get("agent_event")
    ]
    assert [(e["type"], e.get("content")) for e in streamed] == [
        ("tool_use", None),
        ("tool_result", FORECAST),
    ]


def test_a_server_down_at_start_leaves_the_agent_answering_and_a_later_turn_connects(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO
) -> None:
    port = free_port()
    app = harness([followup()], **servers(McpServer("example", f"http://127.0.0.1:{port}/mcp")))

    events = app.chat({"prompt": "Forecast?"})

    assert events[0].event == "warning"
    assert named(events, "warning") == [
        {
            "code": "tool_source_unavailable",
            "message": "The MCP server 'example' is unavailable, so this answer is without its tools.",
        }
    ]
    assert events[-1].event == "done"
    assert offered(app) == ["current_time", "calculator"]
    [unavailable] = logged(logs, "MCP server unavailable")
    assert unavailable["tool_source"] == "example"
    assert "ConnectError" in unavailable["reason"]
    assert unavailable["retry_in_s"] == 1.0

    mcp(McpHttpServer(example_app, port=port))
    # Turns within the wait go without it; the first after it connects.
    wait_until(lambda: not named(app.chat({"prompt": "Forecast?"}), "warning"))
    assert offered(app, -1) == ["current_time", "calculator", "get_forecast"]


def test_a_tool_past_its_timeout_is_an_error_result_the_model_reads(
    harness: HarnessFactory,
    mcp: StartServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    server = mcp(serve_mcp(tool_server(tools=("slow",))))
    app = harness(
        [call("slow", seconds=5), followup()], **servers(McpServer("tools", server.url, timeout_seconds=1))
    )

    events = app.chat({"prompt": "Take your time"})

    expected = "The tool 'slow' of MCP server 'tools' did not answer within 1 s."
    assert named(events, "tool_result")[0] == {
        "id": named(events, "tool_use")[0]["id"],
        "name": "slow",
        "status": "error",
        "content": expected,
    }
    assert told(app) == expected
    assert events[-1].event == "done"
    [source] = [
        line
        for line in json_lines(capsys.readouterr().out)
        if "_aws" in line and line.get("tool_source") == "tools"
    ]
    assert (total(source, "ToolSourceCalls"), total(source, "ToolSourceErrors")) == (1, 1)
    assert total(source, "ToolSourceTimeouts") == 1
    assert total(source, "ToolSourceLatency") >= 1000


def test_every_call_is_counted_for_its_source(
    harness: HarnessFactory,
    mcp: StartServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    server = mcp(McpHttpServer(example_app))
    app = harness(
        [call("get_forecast", city="Paris"), followup()], **servers(McpServer("example", server.url))
    )

    app.chat({"prompt": "Forecast?"})

    documents = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    [request] = [document for document in documents if "tool_source" not in document]
    [source] = [document for document in documents if document.get("tool_source") == "example"]
    assert total(request, "ToolCalls") == 1
    assert [set(names) for names in source["_aws"]["CloudWatchMetrics"][0]["Dimensions"]] == [
        {"service", "tool_source"}
    ]
    assert total(source, "ToolSourceCalls") == 1
    assert total(source, "ToolSourceLatency") > 0
    assert "ToolSourceErrors" not in source


def test_a_failing_tool_is_an_error_result_the_model_reads(harness: HarnessFactory, mcp: StartServer) -> None:
    server = mcp(serve_mcp(tool_server(tools=("fail",))))
    app = harness(
        [call("fail", reason="no such order"), followup()], **servers(McpServer("tools", server.url))
    )

    events = app.chat({"prompt": "Find my order"})

    [result] = named(events, "tool_result")
    assert result["status"] == "error"
    assert told(app) == result["content"] == "Error executing tool fail: no such order"


def test_content_the_model_cannot_take_is_refused_by_name_not_dropped(
    harness: HarnessFactory, mcp: StartServer
) -> None:
    server = mcp(serve_mcp(tool_server(tools=("sound",))))
    app = harness([call("sound"), followup()], **servers(McpServer("tools", server.url)))

    events = app.chat({"prompt": "Play it"})

    expected = (
        "The tool 'sound' of MCP server 'tools' returned content the model cannot be given "
        "(audio (audio/wav)), so its whole result was refused."
    )
    assert named(events, "tool_result")[0]["status"] == "error"
    assert told(app) == expected


def test_images_resources_and_structured_content_reach_the_model(
    harness: HarnessFactory, mcp: StartServer
) -> None:
    server = mcp(serve_mcp(tool_server(tools=("picture", "document", "summary"))))
    steps = [call("picture"), followup(), call("document"), followup(), call("summary"), followup()]
    app = harness(steps, **servers(McpServer("tools", server.url)))

    for prompt in ("Show it", "Read it", "Sum it up"):
        app.chat({"prompt": prompt})

    # The tool role takes text: the picture's caption goes there, the picture itself as the user's image.
    assert told(app, 1) == "a dot"
    image_part = app.runtime.bodies[1]["messages"][-1]["content"][-1]
    assert image_part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert (
        told(app, 3)
        == "Resource file:///notes.txt:\nthe notes\nResource link: more <file:///more.txt> (text/plain)"
    )
    assert told(app, 5) == 'two cities\n{"cities": ["Paris", "Lyon"]}'


def test_a_server_lost_mid_life_is_an_error_result_then_connected_again(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO
) -> None:
    port = free_port()
    server = mcp(McpHttpServer(example_app, port=port))
    app = harness(
        [call("get_forecast", city="Paris"), followup()] * 3, **servers(McpServer("example", server.url))
    )
    assert named(app.chat({"prompt": "Forecast?"}), "tool_result")[0]["status"] == "success"

    server.stop()
    lost = app.chat({"prompt": "Forecast?"})
    server.start()
    back = app.chat({"prompt": "Forecast?"})

    assert named(lost, "tool_result")[0] == {
        **named(lost, "tool_result")[0],
        "status": "error",
        "content": "The tool 'get_forecast' of MCP server 'example' could not be reached: the connection to "
        "the server closed.",
    }
    assert logged(logs, "MCP server connection lost")
    # A connection that worked is opened again by the next turn, without waiting.
    assert not named(back, "warning")
    assert named(back, "tool_result")[0]["status"] == "success"
    assert len(logged(logs, "MCP server connected")) == 2


def test_a_session_the_server_no_longer_knows_is_opened_again_and_the_call_sent_once(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO
) -> None:
    # What a warm function finds after it was frozen: the server restarted, or expired its idle session.
    port = free_port()
    calls: list[str] = []
    counting = MCPServer("counting")

    @counting.tool()
    def tally(label: str) -> str:
        """Count a call."""
        calls.append(label)
        return f"call {len(calls)}"

    def restartable() -> McpHttpServer:
        return serve_mcp(counting, legacy=True, port=port)

    server = mcp(restartable())
    app = harness([call("tally", label="x"), followup()] * 2, **servers(McpServer("counting", server.url)))
    assert named(app.chat({"prompt": "Count"}), "tool_result")[0]["content"] == "call 1"

    server.stop()
    mcp(restartable())
    events = app.chat({"prompt": "Count"})

    assert named(events, "tool_result")[0] == {**named(events, "tool_result")[0], "status": "success"}
    assert named(events, "tool_result")[0]["content"] == "call 2"
    assert calls == ["x", "x"]
    assert logged(logs, "MCP session unknown to the server: reconnecting")
    assert not named(events, "warning")


def test_warnings_come_before_the_answer_and_leave_errors_before_it_their_status(
    harness: HarnessFactory,
) -> None:
    # A turn failing before it produced anything still answers with its own status, not a stream.
    app = harness(
        [ModelError(400, '{"message": "Input validation error"}')],
        **servers(McpServer("example", f"http://127.0.0.1:{free_port()}/mcp")),
    )
    response = app.post({"prompt": "Hi"})
    assert response.status_code != 200
    assert response.headers["content-type"] == "application/json"
    assert set(json.loads(response.content)) >= {"code", "message"}


def test_a_turn_stopped_during_a_call_leaves_the_connection_to_the_next_turn(
    harness: HarnessFactory, mcp: StartServer, logs: io.StringIO
) -> None:
    started = threading.Event()
    waiting = MCPServer("waiting")

    @waiting.tool()
    async def wait_a_while(seconds: float) -> str:
        """Wait a while."""
        started.set()
        await asyncio.sleep(seconds)
        return "waited"

    server = mcp(serve_mcp(waiting, legacy=True))
    # The first turn's call is cut short, so the second turn's model request is the next step.
    steps = [call("wait_a_while", seconds=30), call("wait_a_while", seconds=0), followup()]
    app = harness(steps, **servers(McpServer("waiting", server.url)))

    body = json.dumps({"prompt": "Wait"}).encode()
    host, port = str(app.client.base_url).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert started.wait(10)
    # The client left mid-call: the turn was cancelled; the next turn uses the same connection.
    wait_until(lambda: bool(logged(logs, "chat turn cancelled")))
    events = app.chat({"prompt": "Wait"})

    assert named(events, "tool_result")[0]["content"] == "waited"
    assert len(logged(logs, "MCP server connected")) == 1


def test_the_openai_door_carries_a_tool_sources_warning(harness: HarnessFactory) -> None:
    app = harness([followup()], **servers(McpServer("example", f"http://127.0.0.1:{free_port()}/mcp")))
    client = openai_client(str(app.client.base_url))

    whole = client.chat.completions.create(model="agent", messages=[{"role": "user", "content": "Hi"}])

    warning = {
        "type": "warning",
        "code": "tool_source_unavailable",
        "message": "The MCP server 'example' is unavailable, so this answer is without its tools.",
    }
    assert whole.model_extra["agent_events"] == [warning]  # type: ignore[index]
    assert whole.choices[0].message.content == AFTER_TOOL
