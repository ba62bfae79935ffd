"""One agent turn, run in its own task and turned into the `/chat` stream's events.

The turn (building the agent included) runs in a dedicated task that feeds a queue, so the HTTP layer can wait
for the first event before choosing a status (a failure before anything was produced becomes a plain JSON
error with its own status), and so a client disconnect cancels the whole turn in one place. However the turn
ends (answered, failed, cancelled), its task logs one end line, flushes the request's metrics once and
releases the session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strands import Agent
from strands.types.exceptions import MaxTokensReachedException
from strands.types.tools import AgentTool

from agent_api.errors import ErrorReply, classify, root_cause, shorten
from agent_api.observability import RequestMetrics, logger
from sagemaker_provider.messages import tool_result_text

if TYPE_CHECKING:
    from strands.types.tools import ToolResult

    from agent_api.tool_sources import ToolSources

TOOL_RESULT_SUMMARY_CHARS = 500
# The event of something the answer goes without, such as a tool source: `{"code", "message"}`.
WARNING = "warning"
_LOGGED_DETAIL_CHARS = 500


@dataclass(frozen=True)
class SseEvent:
    """One event of the `/chat` stream as the client receives it: its name and JSON payload."""

    name: str
    data: dict[str, Any]


@dataclass
class _TurnStats:
    tool_calls: int = 0
    events: int = 0
    tool_names: dict[str, str] = field(default_factory=dict)


class AgentTurn:
    """Builds the agent, runs it on `prompt` and yields `SseEvent`s, ending with `done` or an `ErrorReply`.

    `build_agent` takes the tool sources' tools for the turn (`tool_sources`, if any), which join the Python
    tools; a source the turn goes without is a `warning` event, sent ahead of the turn's first event (so a
    turn that fails before producing anything still fails with its own status). `on_answered` runs only after
    a complete answer, before `done` (saving the session); if it raises, the turn ends with that error
    instead. `on_end` runs however the turn ends (releasing the session).
    """

    def __init__(
        self,
        build_agent: Callable[[Sequence[AgentTool]], Agent],
        prompt: str,
        *,
        session_id: str | None,
        request_id: str,
        metrics: RequestMetrics,
        on_answered: Callable[[], Awaitable[None]] | None = None,
        on_end: Callable[[], Awaitable[None]] | None = None,
        stream_reasoning: bool = True,
        tool_sources: ToolSources | None = None,
    ) -> None:
        self._build_agent = build_agent
        self._prompt = prompt
        self._session_id = session_id
        self._request_id = request_id
        self._metrics = metrics
        self._on_answered = on_answered
        self._on_end = on_end
        self._stream_reasoning = stream_reasoning
        self._tool_sources = tool_sources
        self._warnings: list[dict[str, str]] = []
        self._queue: asyncio.Queue[SseEvent | ErrorReply | None] = asyncio.Queue()
        self._stats = _TurnStats()
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the turn in its own task."""
        self._task = asyncio.create_task(self._run())

    async def next(self) -> SseEvent | ErrorReply | None:
        """Wait for the next event; an `ErrorReply` is the last item before None, which marks the end."""
        return await self._queue.get()

    async def close(self) -> None:
        """Stop the turn if it is still running (client gone) and wait until it has let go of everything."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            # asyncio.wait, unlike awaiting the task, does not pass a cancellation of the caller (the client
            # went away) on to the task: cancelled again, it would abandon its own cleanup (the session lock).
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        terminal: SseEvent | ErrorReply | None = None
        try:
            # Building an agent (which restores a session's conversation, read before the turn) runs in a
            # worker thread. Without a session that hop costs nothing measurable (benchmarks/e2e_bench.py:
            # building on the loop instead changed the agent API's time-to-first-token overhead by -0.1 and
            # +0.5 ms median in two runs, within noise), so every agent is built the same way.
            tools = await self._source_tools()
            agent = await asyncio.to_thread(self._build_agent, tools)
            stop_reason = await self._answer(agent)
            # Only a complete answer is kept (the session saved); if that fails, the turn fails, and the
            # failure is its one end line.
            if self._on_answered is not None:
                await self._on_answered()
            terminal = self._done(agent, stop_reason)
        except Exception as exc:
            terminal = self._fail(exc)
        finally:
            # Whatever the end, exactly one end line and one metrics document: done and failed turns logged
            # theirs above; only a cancelled one (the client went away) gets here without a terminal event.
            if terminal is None:
                self._cancelled()
            self._flush_metrics()
            # Cleanup (the session lock) happens before the last event, so a client that sends its next
            # turn as soon as it reads `done` finds the session free.
            await self._end()
            if terminal is not None:
                self._queue.put_nowait(terminal)
            self._queue.put_nowait(None)

    async def _source_tools(self) -> Sequence[AgentTool]:
        """Return the tool sources' tools for this turn, keeping a warning for each source it goes without."""
        if self._tool_sources is None:
            return ()
        turn_tools = await self._tool_sources.for_turn(self._metrics)
        self._warnings = turn_tools.warnings
        return turn_tools.tools

    async def _answer(self, agent: Agent) -> str:
        """Stream the agent's answer as events; return its stop reason."""
        stop_reason: str | None = None
        try:
            async for event in agent.stream_async(self._prompt):
                if "result" in event:
                    stop_reason = str(event["result"].stop_reason)
                else:
                    self._handle(event)
        except MaxTokensReachedException:
            # The partial answer was streamed and saved; running out of tokens is a normal end.
            stop_reason = "max_tokens"
        if stop_reason is None:
            raise RuntimeError("the agent's stream ended without a result")
        return stop_reason

    async def _end(self) -> None:
        if self._on_end is None:
            return
        try:
            await self._on_end()
        except Exception:
            logger.exception("cleanup after the chat turn failed")

    def _flush_metrics(self) -> None:
        try:
            self._metrics.flush()
        except Exception:
            # Losing a request's metrics must not lose its answer's last event.
            logger.exception("flushing the chat turn's metrics failed")

    def _handle(self, event: dict[str, Any]) -> None:
        if "data" in event and "delta" in event:
            text = event["data"]
            if isinstance(text, str) and text:
                self._metrics.first_token()
                self._emit("text", {"delta": text})
        elif event.get("reasoning") is True and "reasoningText" in event:
            reasoning = event["reasoningText"]
            if self._stream_reasoning and isinstance(reasoning, str) and reasoning:
                self._emit("reasoning", {"delta": reasoning})
        elif "message" in event and isinstance(event["message"], dict):
            self._message(event["message"])

    def _message(self, message: dict[str, Any]) -> None:
        for block in message.get("content", []):
            if message.get("role") == "assistant" and "toolUse" in block:
                tool_use = block["toolUse"]
                self._stats.tool_names[tool_use["toolUseId"]] = tool_use["name"]
                self._stats.tool_calls += 1
                self._metrics.tool_call()
                self._emit(
                    "tool_use",
                    {"id": tool_use["toolUseId"], "name": tool_use["name"], "input": tool_use["input"]},
                )
            elif "toolResult" in block:
                result = block["toolResult"]
                self._emit(
                    "tool_result",
                    {
                        "id": result["toolUseId"],
                        "name": self._stats.tool_names.get(result["toolUseId"], ""),
                        "status": result["status"],
                        "content": summarize_tool_result(result),
                    },
                )

    def _done(self, agent: Agent, stop_reason: str) -> SseEvent:
        self._send_warnings()
        usage = agent.event_loop_metrics.accumulated_usage
        input_tokens, output_tokens = int(usage["inputTokens"]), int(usage["outputTokens"])
        self._metrics.usage(input_tokens, output_tokens)
        logger.info(
            "chat turn finished",
            extra={
                "stop_reason": stop_reason,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "tool_calls": self._stats.tool_calls,
                "duration_ms": self._duration_ms(),
            },
        )
        return SseEvent(
            "done",
            {
                "stop_reason": stop_reason,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                "session_id": self._session_id,
            },
        )

    def _cancelled(self) -> None:
        self._metrics.cancelled()
        logger.info(
            "chat turn cancelled",
            extra={
                "reason": "client_gone",
                "events": self._stats.events,
                "duration_ms": self._duration_ms(),
            },
        )

    def _duration_ms(self) -> int:
        return round((time.monotonic() - self._started) * 1000)

    def _fail(self, exc: Exception) -> ErrorReply:
        error = classify(exc, self._request_id)
        self._metrics.error()
        cause = root_cause(exc)
        extra = {"code": error.code, "exception": type(cause).__name__}
        if error.code in {"internal_error", "session_error"}:
            logger.exception("chat turn failed", extra=extra)
        else:
            logger.warning(
                "chat turn failed", extra={**extra, "detail": shorten(str(cause), _LOGGED_DETAIL_CHARS)}
            )
        return error

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self._send_warnings()
        self._stats.events += 1
        self._queue.put_nowait(SseEvent(name, data))

    def _send_warnings(self) -> None:
        """Send the turn's warnings (once), ahead of whatever it produces first."""
        warnings, self._warnings = self._warnings, []
        for warning in warnings:
            self._stats.events += 1
            self._queue.put_nowait(SseEvent(WARNING, warning))


def summarize_tool_result(result: ToolResult) -> str:
    """Summarize a tool result as short text (non-text items are named, not dumped)."""
    return shorten(tool_result_text(result, name_other_items=True), TOOL_RESULT_SUMMARY_CHARS)
