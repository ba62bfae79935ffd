"""One turn: the agent answering one request, in its own task, as a sequence of `TurnEvent`s.

What the turn yields and holds (its events, `FinishedTurn`, `HeldConversation`) is `agent_api.turn_events`.

The turn runs in a dedicated task that feeds a queue, so the pipeline (`agent_api.pipeline`) can wait for
its first item before it chooses a status (a failure before anything was produced becomes a plain error
answer with its own status), and so a client leaving cancels the whole turn in one place. The task is where a
turn begins and ends: it answers (waking a model found scaled to zero, `_model_at_zero`, the one place that
decides what such a turn does), saves its stored conversation (`HeldConversation`: a session, or a stored
response) after a complete answer, and, however the turn ends (answered, failed, refused, cancelled), logs one
end line, writes one metrics document and lets the conversation go, all before its last item. A turn the
endpoint's own model cannot answer at once (no copy in service, or throttled) may be answered by the fallback
model instead (`_answer_with_fallback`, agent_api.fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strands import Agent
from strands.models.model import Model
from strands.types.exceptions import MaxTokensReachedException
from strands.types.tools import AgentTool

from agent_api.agent_factory import AgentFactory
from agent_api.errors import ErrorReply, ReplyError, classify, root_cause, shorten
from agent_api.fallback import FALLBACK_STATE, Fallback
from agent_api.observability import RequestMetrics, logger
from agent_api.tracing import current_request
from agent_api.turn_events import (
    DONE,
    REASONING,
    STATUS,
    TEXT,
    TOOL_RESULT,
    TOOL_USE,
    WARNING,
    FinishedTurn,
    HeldConversation,
    TurnEvent,
    TurnItem,
)
from agent_api.validation import TurnRequest
from agent_api.warming import ModelState, WarmingService
from sagemaker_provider.errors import ModelNotReadyError
from sagemaker_provider.messages import tool_result_text

if TYPE_CHECKING:
    from strands.types.tools import ToolResult

    from agent_api.tool_sources import ToolSources

TOOL_RESULT_SUMMARY_CHARS = 500
_LOGGED_DETAIL_CHARS = 500


@dataclass(frozen=True)
class TurnServices:
    """What every turn of the process shares: the agents, the model's wake-up, the metrics, the settings.

    `tool_sources` are the MCP servers, if any are configured.
    """

    agents: AgentFactory
    warming: WarmingService
    metrics: Callable[[], RequestMetrics]
    stream_reasoning: bool
    tool_sources: ToolSources | None = None
    fallback: Fallback | None = None
    """The model answering while the own one cannot (agent_api.fallback); None: none is configured."""


@dataclass
class _TurnStats:
    tool_calls: int = 0
    events: int = 0
    tool_names: dict[str, str] = field(default_factory=dict)


class Turn:
    """Answers `request` with a fresh agent, yielding `TurnEvent`s and then `done` or an `ErrorReply`.

    With a stored conversation (`lease`: a session, a stored response), the agent starts from it; it is saved
    only after a complete answer, before `done` (if saving fails, the turn ends with that error instead),
    and released however the turn ends. `may_wait` says whether the answer can wait for a model scaled to
    zero (its door streams or reports progress, and the caller did not say `"wait": false`).
    """

    def __init__(
        self,
        request: TurnRequest,
        services: TurnServices,
        *,
        lease: HeldConversation | None,
        request_id: str,
        may_wait: bool,
    ) -> None:
        self._request = request
        self._services = services
        self._lease = lease
        self._request_id = request_id
        self._may_wait = may_wait
        self._metrics = services.metrics()
        self._queue: asyncio.Queue[TurnItem | None] = asyncio.Queue()
        self._stats = _TurnStats()
        # What a stored conversation is saved with (a stored response keeps the answer's items).
        self._events: list[TurnEvent] = []
        self._warnings: list[dict[str, str]] = []
        # The tool sources' tools this turn offers (besides the Python tools every agent has).
        self._source_tools: Sequence[AgentTool] = ()
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        # The model that answers the turn, as `done` names it: the own model's unless the fallback answers.
        self._model_name = services.agents.model_name

    def start(self) -> None:
        """Start the turn in its own task."""
        self._task = asyncio.create_task(self._run())

    async def next(self) -> TurnItem | None:
        """Wait for the next item; None marks the end (right after the last item, or alone once cancelled)."""
        return await self._queue.get()

    def cancel(self) -> None:
        """Stop the turn if it is still running (its client left); its task still cleans up."""
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """Stop the turn if it is still running and wait until it has let go of everything."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            # asyncio.wait, unlike awaiting the task, does not pass a cancellation of the caller (the client
            # went away) on to the task: cancelled again, it would abandon its own cleanup (the session lock).
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        terminal: TurnItem | None = None
        try:
            agent, stop_reason = await self._answer_when_awake()
            done = self._done(agent, stop_reason)
            # Only a complete answer is kept (the conversation saved); if that fails, the turn fails, and the
            # failure is its one end line.
            if self._lease is not None:
                await asyncio.to_thread(self._lease.save, FinishedTurn((*self._events, done)))
            self._finished(done)
            terminal = done
        except Exception as exc:
            terminal = self._fail(exc)
        finally:
            # Whatever the end, exactly one end line and one metrics document: done and failed turns logged
            # theirs above; only a cancelled one (the client went away) gets here without a terminal item.
            if terminal is None:
                self._cancelled()
            self._flush_metrics()
            # Cleanup (the session lock) happens before the last item, so a client that sends its next
            # turn as soon as it reads `done` finds the session free.
            await self._release()
            if terminal is not None:
                self._queue.put_nowait(terminal)
            self._queue.put_nowait(None)

    async def _answer_when_awake(self) -> tuple[Agent, str]:
        """Answer with a fresh agent; return it and its stop reason.

        A first call the fallback answers instead (agent_api.fallback: no copy in service, or throttled with
        `AGENT_FALLBACK_ON_THROTTLE`) is `_answer_with_fallback`'s. Else a model found scaled to zero before
        anything was produced is `_model_at_zero`'s to handle: if that returns, the model is awake and the
        turn is answered again from the start. The tool sources' tools join the agent's, whichever model
        answers; a source the turn goes without is a warning, sent ahead of the first event (so a turn that
        fails before producing anything still fails with its own status).
        """
        self._source_tools = await self._tool_sources()
        fallback = self._services.fallback
        # With a fallback that answers throttles, the first call is not retried when throttled: the fallback
        # answers it at once instead.
        on_throttle = fallback is not None and fallback.on_throttle
        gives_way = (lambda: not self._stats.events) if on_throttle else None
        while True:
            agent = await self._agent(gives_way=gives_way)
            try:
                return agent, await self._answer(agent)
            except Exception as exc:
                if self._stats.events:
                    raise
                cause = root_cause(exc)
                reason = fallback.reason(cause) if fallback is not None else None
                if fallback is not None and reason is not None:
                    return await self._answer_with_fallback(
                        fallback, reason, wake=isinstance(cause, ModelNotReadyError)
                    )
                if not isinstance(cause, ModelNotReadyError):
                    raise
                await self._model_at_zero(exc)
            await self._reread_session()

    async def _agent(self, model: Model | None = None, gives_way: Callable[[], bool] | None = None) -> Agent:
        """Build the turn's agent (with the fallback's `model` if given)."""
        # An agent on a stored conversation restores it (read before the turn) as it is built: that can take
        # a large share of a second, so it is built in a worker thread. Without one, building takes
        # about 0.1 ms, less than the two thread hand-offs cost on a busy machine (the time to first token was
        # 0.3-0.9 ms shorter, in-process against a replayed recording, load 8).
        if self._lease is None:
            return self._build_agent(model, gives_way)
        return await asyncio.to_thread(self._build_agent, model, gives_way)

    async def _reread_session(self) -> None:
        """Read the stored conversation again after an attempt the model refused before answering."""
        if self._lease is not None:
            # The refused attempt added the prompt to the conversation read under the lease: read it again
            # (the lease is held meanwhile, so nobody else changed it).
            await asyncio.to_thread(self._lease.reload)

    async def _answer_with_fallback(
        self, fallback: Fallback, reason: str, *, wake: bool
    ) -> tuple[Agent, str]:
        """Answer with the fallback model, saying so first; a model with no copy is woken meanwhile.

        The wake is the same as without a fallback (a copy asked for once, after the refused invocation that
        counts as demand), in the background: the answer does not wait for it, but the turn does not end
        before it. A failure of the fallback ends the turn with `fallback_error`.
        """
        waking = self._services.warming.wake() if wake else None
        logger.info("answering with the fallback model", extra={"model": fallback.name, "reason": reason})
        self._metrics.fallback_turn()
        current_request().note_fallback(fallback.name)
        self._model_name = fallback.name
        self._emit(STATUS, {"state": FALLBACK_STATE, "model": fallback.name})
        try:
            await self._reread_session()
            model = fallback.turn_model(
                self._request.max_tokens, self._request.temperature, self._request.sampling
            )
            agent = await self._agent(model)
            try:
                return agent, await self._answer(agent)
            except Exception as exc:
                raise ReplyError(fallback.failure(exc, reason, self._request_id)) from exc
        finally:
            if waking is not None:
                await _settle(waking)

    async def _model_at_zero(self, exc: Exception) -> None:
        """Decide what a turn that found the model scaled to zero, before producing anything, does.

        Either refuse at once (the caller said `"wait": false`, or its answer cannot wait: raises the 503
        `model_warming` with Retry-After, a copy asked for all the same), or send a `status` event at each
        check until a copy is in service and return, for the turn to be answered.
        """
        if not (self._may_wait and self._services.warming.can_wait):
            self._metrics.model_warming_refusal()
            refusal = await self._services.warming.refuse(classify(exc, self._request_id))
            raise ReplyError(refusal) from exc
        waiting = self._services.warming.wait()
        started = time.monotonic()
        try:
            async with contextlib.aclosing(waiting):
                async for elapsed in waiting:
                    self._emit(STATUS, {"state": ModelState.WARMING.value, "elapsed_s": elapsed})
        finally:
            current_request().note_model_wait(time.monotonic() - started)

    async def _tool_sources(self) -> Sequence[AgentTool]:
        """Return the tool sources' tools for this turn, keeping a warning for each source it goes without."""
        sources = self._services.tool_sources
        if sources is None:
            return ()
        turn_tools = await sources.for_turn(self._metrics)
        self._warnings = turn_tools.warnings
        return turn_tools.tools

    def _build_agent(self, model: Model | None, gives_way: Callable[[], bool] | None) -> Agent:
        """Build the turn's agent; with a session it starts from the conversation read with the lease."""
        session_manager = self._lease.session_manager() if self._lease is not None else None
        return self._services.agents.agent(
            self._request, session_manager, self._source_tools, model=model, gives_way=gives_way
        )

    async def _answer(self, agent: Agent) -> str:
        """Stream the agent's answer as events; return its stop reason."""
        stop_reason: str | None = None
        try:
            async for event in agent.stream_async(self._request.prompt):
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

    async def _release(self) -> None:
        if self._lease is None:
            return
        try:
            await asyncio.to_thread(self._lease.release)
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
                self._emit(TEXT, {"delta": text})
        elif event.get("reasoning") is True and "reasoningText" in event:
            reasoning = event["reasoningText"]
            if self._services.stream_reasoning and isinstance(reasoning, str) and reasoning:
                self._emit(REASONING, {"delta": reasoning})
        elif "message" in event and isinstance(event["message"], dict):
            self._message(event["message"])

    def _message(self, message: dict[str, Any]) -> None:
        for block in message.get("content", []):
            if message.get("role") == "assistant" and "toolUse" in block:
                tool_use = block["toolUse"]
                self._stats.tool_names[tool_use["toolUseId"]] = tool_use["name"]
                self._stats.tool_calls += 1
                self._emit(
                    TOOL_USE,
                    {"id": tool_use["toolUseId"], "name": tool_use["name"], "input": tool_use["input"]},
                )
            elif "toolResult" in block:
                result = block["toolResult"]
                self._emit(
                    TOOL_RESULT,
                    {
                        "id": result["toolUseId"],
                        "name": self._stats.tool_names.get(result["toolUseId"], ""),
                        "status": result["status"],
                        "content": summarize_tool_result(result),
                    },
                )

    def _done(self, agent: Agent, stop_reason: str) -> TurnEvent:
        """Return the `done` event of an answered turn (the warnings not yet sent go first)."""
        self._send_warnings()
        usage = agent.event_loop_metrics.accumulated_usage
        input_tokens, output_tokens = int(usage["inputTokens"]), int(usage["outputTokens"])
        return TurnEvent(
            DONE,
            {
                "stop_reason": stop_reason,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                "session_id": self._request.session_id,
                "trace_id": current_request().trace_id,
                "model": self._model_name,
            },
        )

    def _finished(self, done: TurnEvent) -> None:
        """End an answered turn (its conversation saved): its end line and its usage metrics."""
        usage = done.data["usage"]
        self._metrics.answered(usage["input_tokens"], usage["output_tokens"], self._stats.tool_calls)
        logger.info(
            "chat turn finished",
            extra={
                "model": self._model_name,
                "stop_reason": done.data["stop_reason"],
                "input_tokens": usage["input_tokens"],
                "output_tokens": usage["output_tokens"],
                "tool_calls": self._stats.tool_calls,
                "duration_ms": self._duration_ms(),
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
        current_request().note_error(error.code, error.status >= 500)
        cause = root_cause(exc.__cause__ if isinstance(exc, ReplyError) and exc.__cause__ else exc)
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
        self._put(TurnEvent(name, data))

    def _send_warnings(self) -> None:
        """Send the turn's warnings (once), ahead of whatever it produces first."""
        if not self._warnings:  # every event of every turn comes by here
            return
        warnings, self._warnings = self._warnings, []
        for warning in warnings:
            self._put(TurnEvent(WARNING, warning))

    def _put(self, event: TurnEvent) -> None:
        self._stats.events += 1
        if self._lease is not None:
            self._events.append(event)
        self._queue.put_nowait(event)


async def _settle(wake: asyncio.Task[None]) -> None:
    """Wait for a wake asked for in the background; its failure is logged, never the turn's."""
    try:
        # Shielded: a client leaving stops the answer, not the request for a copy.
        await asyncio.shield(wake)
    except Exception:
        logger.exception("asking for a copy of the model failed")


def summarize_tool_result(result: ToolResult) -> str:
    """Summarize a tool result as short text (non-text items are named, not dumped)."""
    return shorten(tool_result_text(result, name_other_items=True), TOOL_RESULT_SUMMARY_CHARS)
