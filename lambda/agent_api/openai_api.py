"""The OpenAI-compatible routes: `POST /v1/chat/completions` and `GET /v1/models` (docs/agent-api.md).

The whole agent answers, tools included: its tool calls run here, server-side, and are never sent as
OpenAI `tool_calls` (which would ask the client to run them). They show in the extension field
`agent_event` of a stream chunk (`agent_events`, a list, of a whole completion), which OpenAI clients ignore.
Shapes follow the `openai` SDK's types (`openai.types.chat.ChatCompletion`, `ChatCompletionChunk`,
`openai.types.Model`); errors are OpenAI's `{"error": {"message", "type", "param", "code"}}` with the same
codes and statuses as `/chat`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from strands import Agent
from strands.types.content import Message, Messages
from strands.types.tools import AgentTool

from agent_api import contract, sse
from agent_api.errors import MODEL_WARMING, ErrorReply, http_error_reply, unexpected_error_reply
from agent_api.observability import logger, request_id_from_headers
from agent_api.sessions import SessionLease
from agent_api.settings import Settings
from agent_api.turn import AgentTurn, SseEvent
from agent_api.validation import (
    ChatRequest,
    RequestError,
    check_content_type,
    check_session_id,
    max_body_bytes,
    parse_json_object,
    parse_max_tokens,
    parse_temperature,
    read_body,
)
from agent_api.warming import WaitingStream

if TYPE_CHECKING:
    from agent_api.app import ChatService

# Fields that would have the client run tools: the agent runs its own, so they are refused.
TOOL_FIELDS: Final = ("tools", "tool_choice", "functions", "function_call", "parallel_tool_calls")
ACCEPTED_FIELDS: Final = (
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "n",
    "user",
)
# System and developer messages are the caller's instructions; user and assistant ones the conversation.
INSTRUCTION_ROLES: Final = ("system", "developer")
CONVERSATION_ROLES: Final = ("user", "assistant")
MESSAGE_FIELDS: Final = ("role", "content", "name")
# Strands' stop reasons as OpenAI's finish reasons; any other (none is expected at the end of a turn)
# is "stop".
FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
DONE_LINE: Final = b"data: [DONE]\n\n"

_T = TypeVar("_T")


@dataclass(frozen=True)
class CompletionRequest:
    """A validated `/v1/chat/completions` request: the turn to answer and how to answer it."""

    chat: ChatRequest
    history: Messages
    instructions: str
    stream: bool
    include_usage: bool


def error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(error: ErrorReply, param: str | None = None) -> dict[str, Any]:
    """Return the OpenAI error object for an `ErrorReply` (the same in a JSON answer and in a stream)."""
    return {
        "error": {
            "message": error.message,
            "type": error_type(error.status),
            "param": param,
            "code": error.code,
        }
    }


def openai_error(error: ErrorReply, request_id: str | None = None, param: str | None = None) -> JSONResponse:
    """Answer with an OpenAI-shaped error and the error's status."""
    headers = {"x-request-id": request_id} if request_id else None
    return JSONResponse(error_body(error, param), status_code=error.status, headers=headers)


class _ParamError(RequestError):
    """A `RequestError` about one request parameter (OpenAI's `param`)."""

    def __init__(self, status: int, code: str, message: str, param: str) -> None:
        super().__init__(status, code, message)
        self.param = param


def parse_completion_request(body: bytes, settings: Settings, session_id: str | None) -> CompletionRequest:
    """Parse and validate a `/v1/chat/completions` body; `session_id` is the session header's value.

    Raises:
        RequestError: naming the first problem found (a `_ParamError` when it is about one parameter).

    """
    data = parse_json_object(body, settings)
    _check_fields(data)
    _check_model(data)
    stream = _flag(data, "stream")
    include_usage = _stream_options(data, stream)
    n = data.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise _ParamError(400, "unsupported_parameter", "only one choice is generated: 'n' must be 1", "n")
    if "user" in data and not isinstance(data["user"], str | None):
        raise _ParamError(400, "invalid_field", "field 'user' must be a string", "user")
    instructions, history, prompt = _conversation(data, settings)
    if session_id is not None:
        session_id = check_session_id(session_id, settings, f"header {contract.SESSION_ID_HEADER}")
    # `max_completion_tokens` is the current name of `max_tokens`, which OpenAI keeps as deprecated.
    tokens_field = "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _about(tokens_field, parse_max_tokens, data, settings, tokens_field)
    temperature = _about("temperature", parse_temperature, data, settings)
    return CompletionRequest(
        chat=ChatRequest(prompt, session_id, max_tokens, temperature),
        # With a session, the stored conversation is the history: the request's earlier turns are not used.
        history=[] if session_id is not None else history,
        instructions=instructions,
        stream=stream,
        include_usage=include_usage,
    )


def _about(param: str, parse: Callable[..., _T], *args: Any) -> _T:
    """Run a `/chat` field parser, naming `param` in the error it raises."""
    try:
        return parse(*args)
    except RequestError as exc:
        raise _ParamError(exc.status, exc.code, exc.message, param) from exc


def _check_fields(data: dict[str, Any]) -> None:
    for name in TOOL_FIELDS:
        if name in data:
            raise _ParamError(
                400,
                "tools_not_supported",
                f"'{name}' is not supported: the agent runs its own tools on the server "
                "and never asks the client to run one",
                name,
            )
    unknown = sorted(set(data) - set(ACCEPTED_FIELDS))
    if unknown:
        raise _ParamError(
            400,
            "unsupported_parameter",
            f"unsupported parameter(s): {', '.join(unknown)} (accepted: {', '.join(ACCEPTED_FIELDS)})",
            unknown[0],
        )


def _check_model(data: dict[str, Any]) -> None:
    if "model" not in data:
        raise _ParamError(400, "missing_field", "field 'model' is required", "model")
    if data["model"] != contract.OPENAI_MODEL_ID:
        raise _ParamError(
            404,
            "model_not_found",
            f"model {data['model']!r} does not exist; this API serves {contract.OPENAI_MODEL_ID!r}",
            "model",
        )


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _ParamError(400, "invalid_field", f"field '{name}' must be a boolean", name)
    return value


def _stream_options(data: dict[str, Any], stream: bool) -> bool:
    """Return `stream_options.include_usage`."""
    options = data.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise _ParamError(
            400, "invalid_field", "'stream_options' is only allowed when 'stream' is true", "stream_options"
        )
    if not isinstance(options, dict) or set(options) - {"include_usage"}:
        raise _ParamError(
            400,
            "invalid_field",
            "field 'stream_options' must be an object with at most 'include_usage'",
            "stream_options",
        )
    return _flag(options, "include_usage")


def _conversation(data: dict[str, Any], settings: Settings) -> tuple[str, Messages, str]:
    """Split `messages` into the caller's instructions, the earlier turns, and the prompt (the last one)."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ParamError(400, "invalid_field", "field 'messages' must be a non-empty array", "messages")
    instructions: list[str] = []
    turns: Messages = []
    total_chars = 0
    for index, message in enumerate(messages):
        role, text = _message(message, index)
        total_chars += len(text)
        if role in INSTRUCTION_ROLES:
            instructions.append(text)
        else:
            turns.append(cast(Message, {"role": role, "content": [{"text": text}]}))
    if messages[-1]["role"] != "user":
        raise _ParamError(400, "invalid_field", "the last message must be a user message", "messages")
    if total_chars > settings.max_prompt_chars:
        raise _ParamError(
            400,
            "prompt_too_long",
            f"the messages have {total_chars} characters; the limit is {settings.max_prompt_chars}",
            "messages",
        )
    prompt = turns.pop()["content"][0]["text"]
    return "\n\n".join(instructions), turns, prompt


def _message(message: object, index: int) -> tuple[str, str]:
    """Return one message's role and text."""
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _ParamError(400, "invalid_field", f"{param} must be an object", param)
    role = message.get("role")
    if role in ("tool", "function") or "tool_calls" in message or "function_call" in message:
        raise _ParamError(
            400,
            "tools_not_supported",
            f"{param} carries a tool call or result: the agent runs its own tools on the server, "
            "so the conversation holds only system, developer, user and assistant text",
            param,
        )
    if role not in INSTRUCTION_ROLES + CONVERSATION_ROLES:
        allowed = ", ".join(INSTRUCTION_ROLES + CONVERSATION_ROLES)
        raise _ParamError(400, "invalid_field", f"{param}.role must be one of {allowed}", f"{param}.role")
    unknown = sorted(set(message) - set(MESSAGE_FIELDS))
    if unknown:
        raise _ParamError(
            400, "invalid_field", f"{param} has unsupported field(s): {', '.join(unknown)}", param
        )
    text = _text(message.get("content"), f"{param}.content")
    if not text.strip():
        raise _ParamError(400, "invalid_field", f"{param}.content must not be empty", f"{param}.content")
    return str(role), text


def _text(content: object, param: str) -> str:
    """Return a message's content as text: a string, or an array of text parts (joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        if len(texts) == len(content):
            return "".join(texts)
        raise _ParamError(
            400, "unsupported_content", f"{param}: only text content parts are supported", param
        )
    raise _ParamError(
        400, "invalid_field", f"{param} must be a string or a non-empty array of text parts", param
    )


class OpenAIService:
    """The OpenAI-compatible handlers, answering with the `/chat` service's agents and sessions."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def models(self, request: Request) -> Response:
        """List the one model: the agent."""
        return JSONResponse({"object": "list", "data": [_model()]})

    async def completions(self, request: Request) -> Response:
        """Answer a chat completion, streamed (`stream: true`) or whole; bad input before anything runs."""
        request_id = request_id_from_headers(request.headers)
        logger.thread_safe_append_keys(request_id=request_id)
        settings = self.chat.settings
        try:
            check_content_type(request.headers.get("content-type"))
            body = await read_body(request, max_body_bytes(settings))
            completion = parse_completion_request(
                body, settings, request.headers.get(contract.SESSION_ID_HEADER)
            )
        except RequestError as exc:
            logger.info("completion request rejected", extra={"code": exc.code, "status": exc.status})
            param = exc.param if isinstance(exc, _ParamError) else None
            return openai_error(ErrorReply(exc.code, exc.message, exc.status), request_id, param)
        chat_request = completion.chat
        logger.info(
            "completion request accepted",
            extra={
                "session_id": chat_request.session_id,
                "prompt_chars": len(chat_request.prompt),
                "history_messages": len(completion.history),
                "stream": completion.stream,
                "max_tokens": chat_request.max_tokens,
            },
        )
        turn = await self._begin_turn(completion, request, request_id)
        if isinstance(turn, ErrorReply):
            return openai_error(turn, request_id)
        first = await turn.next()
        headers = {"x-request-id": request_id}
        if chat_request.session_id is not None:
            headers[contract.SESSION_ID_HEADER] = chat_request.session_id
        chunks = _Chunks(f"chatcmpl-{uuid.uuid4().hex}", completion.include_usage)
        if isinstance(first, ErrorReply):
            await turn.close()
            if first.code == MODEL_WARMING:
                return await self._model_warming(completion, request, first, headers, chunks)
            return openai_error(first, request_id)
        if not completion.stream:
            return await _whole(turn, first, chunks.completion_id, headers)
        return StreamingResponse(
            _stream(turn, first, chunks), media_type=sse.MEDIA_TYPE, headers={**sse.HEADERS, **headers}
        )

    async def _begin_turn(
        self, completion: CompletionRequest, request: Request, request_id: str
    ) -> AgentTurn | ErrorReply:
        """Start the completion's turn (on its session, opened and locked first, when it names one)."""
        build_agent = functools.partial(self._build_agent, completion)
        return await self.chat.begin_turn(completion.chat, request, request_id, build_agent)

    async def _model_warming(
        self,
        completion: CompletionRequest,
        request: Request,
        error: ErrorReply,
        headers: dict[str, str],
        chunks: _Chunks,
    ) -> Response:
        """Wake a model found scaled to zero: a stream waits for it, a whole completion is refused at once.

        A whole completion has nothing to send while it waits, and API Gateway closes a response idle for 5
        minutes (docs/agent-api.md, "Scaled to zero"): it gets 503 with Retry-After, which the OpenAI SDKs
        honour when they retry.
        """
        warming = self.chat.warming
        request_id = headers["x-request-id"]
        if not completion.stream or warming.warmer is None:
            return await warming.wake_and_refuse(error, request_id, render=error_body)
        restart = functools.partial(self._begin_turn, completion, request, request_id)
        return warming.wait_then_answer(
            restart, functools.partial(_stream, chunks=chunks), headers, WAITING_STREAM
        )

    def _build_agent(
        self, completion: CompletionRequest, lease: SessionLease | None, tools: Sequence[AgentTool]
    ) -> Agent:
        return self.chat.factory.agent(
            completion.chat,
            lease.session_manager() if lease is not None else None,
            history=completion.history or None,
            instructions=completion.instructions,
            extra_tools=tools,
        )


def _model() -> dict[str, Any]:
    return {
        "id": contract.OPENAI_MODEL_ID,
        "object": "model",
        "created": 0,
        "owned_by": contract.SERVICE_NAME,
    }


def _agent_event(event: SseEvent) -> dict[str, Any]:
    """Return a `/chat` event other than text and done (a tool call, its result) as an agent event."""
    return {"type": event.name, **event.data}


def _usage(done: SseEvent) -> dict[str, int]:
    usage = done.data["usage"]
    prompt, completion = int(usage["input_tokens"]), int(usage["output_tokens"])
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish_reason(done: SseEvent) -> str:
    return FINISH_REASONS.get(str(done.data["stop_reason"]), "stop")


async def _whole(
    turn: AgentTurn, first: SseEvent | None, completion_id: str, headers: dict[str, str]
) -> Response:
    """Wait for the whole turn and answer it as one `chat.completion` (or as the error that ended it)."""
    texts: list[str] = []
    events: list[dict[str, Any]] = []
    item: SseEvent | ErrorReply | None = first
    done: SseEvent | None = None
    try:
        while item is not None:
            if isinstance(item, ErrorReply):
                return openai_error(item, headers["x-request-id"])
            if item.name == "text":
                texts.append(item.data["delta"])
            elif item.name == "done":
                done = item
            else:
                events.append(_agent_event(item))
            item = await turn.next()
    finally:
        await turn.close()
    if done is None:
        # Not expected: a turn without an error ends with `done`; /chat's stream would just stop here.
        logger.error("completion turn ended without an answer")
        return openai_error(ErrorReply("internal_error", "internal error", 500), headers["x-request-id"])
    message = {"role": "assistant", "content": "".join(texts), "refusal": None}
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": contract.OPENAI_MODEL_ID,
        "choices": [
            {"index": 0, "message": message, "finish_reason": _finish_reason(done), "logprobs": None}
        ],
        "usage": _usage(done),
        "agent_events": events,
    }
    return JSONResponse(body, headers=headers)


class _Chunks:
    """Builds the `chat.completion.chunk`s of one streamed completion as SSE `data:` lines."""

    def __init__(self, completion_id: str, include_usage: bool) -> None:
        self.completion_id = completion_id
        self._base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": contract.OPENAI_MODEL_ID,
        }
        self._include_usage = include_usage

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return self._line({**self._base, "choices": [choice], **extra})

    def usage(self, done: SseEvent) -> bytes:
        return _data_line({**self._base, "choices": [], "usage": _usage(done)})

    def _line(self, chunk: dict[str, Any]) -> bytes:
        # With `include_usage`, every chunk but the last carries `usage: null` (OpenAI's API reference).
        return _data_line({**chunk, "usage": None} if self._include_usage else chunk)

    @property
    def include_usage(self) -> bool:
        return self._include_usage


def _data_line(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


WAITING_STREAM: Final = WaitingStream(
    # An SSE comment: OpenAI's SDKs skip it, and it keeps the stream from looking idle while the model wakes.
    status=lambda elapsed: f": model warming, {elapsed} s\n\n".encode(),
    error=lambda error, extra: _data_line({"error": {**error_body(error)["error"], **extra}}),
)
"""How a streamed completion waits for a model scaled to zero (`agent_api.warming`)."""


async def _stream(turn: AgentTurn, first: SseEvent | None, chunks: _Chunks) -> AsyncIterator[bytes]:
    """Yield the streamed completion: a role chunk, a chunk per event, the finish (and usage), `[DONE]`.

    A failure after the stream has begun is sent as OpenAI's in-stream error (`data: {"error": ...}`, which
    the SDKs raise as `APIError`), with no `[DONE]` after it.
    """
    yield chunks.delta({"role": "assistant", "content": ""})
    item: SseEvent | ErrorReply | None = first
    try:
        while item is not None:
            if isinstance(item, ErrorReply):
                yield _data_line(error_body(item))
                return
            if item.name == "text":
                yield chunks.delta({"content": item.data["delta"]})
            elif item.name == "done":
                yield chunks.delta({}, _finish_reason(item))
                if chunks.include_usage:
                    yield chunks.usage(item)
                yield DONE_LINE
            else:
                yield chunks.delta({}, agent_event=_agent_event(item))
            item = await turn.next()
    finally:
        await turn.close()


async def _http_error(request: Request, exc: Exception) -> Response:
    return openai_error(http_error_reply(exc))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return openai_error(unexpected_error_reply())


def routes(chat: ChatService) -> list[Mount]:
    """Return the OpenAI-compatible routes under `/v1`; every error there (404, 405 too) is OpenAI-shaped."""
    service = OpenAIService(chat)
    prefix = contract.OPENAI_PREFIX
    api = Starlette(
        routes=[
            Route(
                contract.OPENAI_CHAT_COMPLETIONS_PATH.removeprefix(prefix),
                service.completions,
                methods=["POST"],
            ),
            Route(contract.OPENAI_MODELS_PATH.removeprefix(prefix), service.models, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )
    return [Mount(prefix, app=api)]
