"""The agent API: a Starlette app streaming a Strands agent's answer as server-sent events.

`agent_api.app:app` is built on first access from the `AGENT_*` environment (so importing this module, e.g.
for `create_app`, needs no configuration); `create_app(settings)` builds one from explicit settings.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from strands import Agent

from agent_api import sse
from agent_api.agent_factory import AgentFactory, RetryPolicy, create_runtime_client, validate_model_config
from agent_api.errors import ErrorReply, classify
from agent_api.observability import RequestMetrics, logger, request_id_from_headers
from agent_api.page import ChatPage
from agent_api.sessions import (
    SessionBusyError,
    SessionLease,
    SessionNotFoundError,
    SessionOwnerUnknownError,
    SessionStore,
    owner_from_headers,
)
from agent_api.settings import Settings, SettingsError
from agent_api.turn import AgentTurn, SseEvent
from agent_api.validation import (
    ChatRequest,
    RequestError,
    check_content_type,
    max_body_bytes,
    parse_chat_request,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient


def error_response(error: ErrorReply, request_id: str | None = None) -> JSONResponse:
    """Answer with the error's JSON body and status; the request id rides in a header for support."""
    headers = {"x-request-id": request_id} if request_id else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


class ChatService:
    """The `/chat` and `/health` handlers, holding what lives for the whole process.

    `sessions` is the session store when the settings enable sessions; validation accepts a request's
    `session_id` only then.
    """

    def __init__(self, settings: Settings, factory: AgentFactory, sessions: SessionStore | None) -> None:
        self.settings = settings
        self.factory = factory
        self.sessions = sessions

    async def health(self, request: Request) -> Response:
        """Readiness check for the Lambda Web Adapter."""
        return JSONResponse({"status": "ok"})

    async def chat(self, request: Request) -> Response:
        """Answer one prompt as a `text/event-stream`; client errors are JSON 4xx before anything streams."""
        request_id = request_id_from_headers(request.headers)
        logger.thread_safe_append_keys(request_id=request_id)
        try:
            check_content_type(request.headers.get("content-type"))
            body = await _read_body(request, max_body_bytes(self.settings))
            chat_request = parse_chat_request(body, self.settings)
        except RequestError as exc:
            logger.info("chat request rejected", extra={"code": exc.code, "status": exc.status})
            return error_response(ErrorReply(exc.code, exc.message, exc.status), request_id)
        logger.info(
            "chat request accepted",
            extra={
                "session_id": chat_request.session_id,
                "prompt_chars": len(chat_request.prompt),
                "max_tokens": chat_request.max_tokens,
            },
        )

        lease: SessionLease | None = None
        if chat_request.session_id is not None:
            assert self.sessions is not None, "parse_chat_request accepts a session_id only with sessions on"
            try:
                owner = owner_from_headers(request.headers)
                # Lock and read the whole conversation in a worker thread: S3 I/O never runs on the loop.
                lease = await asyncio.to_thread(self.sessions.open, chat_request.session_id, owner)
            except (SessionBusyError, SessionNotFoundError, SessionOwnerUnknownError) as exc:
                error = _session_refusal(exc)
                logger.info("chat request rejected", extra={"code": error.code, "status": error.status})
                return error_response(error, request_id)
            except Exception as exc:
                error = classify(exc, request_id)
                logger.warning(
                    "chat request failed before streaming",
                    extra={"code": error.code, "exception": type(exc).__name__},
                    exc_info=exc if error.code == "internal_error" else None,
                )
                return error_response(error, request_id)
        return await self._start_turn(chat_request, lease, request_id)

    async def _start_turn(
        self, chat_request: ChatRequest, lease: SessionLease | None, request_id: str
    ) -> Response:
        turn = AgentTurn(
            functools.partial(self._build_agent, chat_request, lease),
            chat_request.prompt,
            session_id=chat_request.session_id,
            request_id=request_id,
            metrics=RequestMetrics(self.settings.metrics_namespace, self.settings.service_name),
            on_answered=None if lease is None else functools.partial(asyncio.to_thread, lease.save),
            on_end=None if lease is None else functools.partial(asyncio.to_thread, lease.release),
        )
        turn.start()
        first = await turn.next()
        if isinstance(first, ErrorReply):
            await turn.close()
            return error_response(first, request_id)
        return StreamingResponse(
            _stream(turn, first),
            media_type=sse.MEDIA_TYPE,
            headers={**sse.HEADERS, "x-request-id": request_id},
        )

    def _build_agent(self, chat_request: ChatRequest, lease: SessionLease | None) -> Agent:
        """Build the request's agent; with a session it starts from the conversation read with the lease."""
        return self.factory.agent(chat_request, lease.session_manager() if lease is not None else None)


def _session_refusal(exc: Exception) -> ErrorReply:
    """Answer a request that may not use its session now (busy) or at all (not its caller's)."""
    if isinstance(exc, SessionBusyError):
        busy = "another request is being answered on this session; retry when it has finished"
        return ErrorReply("session_busy", busy, 409)
    if isinstance(exc, SessionOwnerUnknownError):
        return ErrorReply(
            "session_owner_unknown", "sessions need an authenticated caller; this request names none", 403
        )
    return ErrorReply("session_not_found", "no such session", 404)


async def _stream(turn: AgentTurn, first: SseEvent | None) -> AsyncIterator[bytes]:
    """Yield the response body: every event as soon as the agent produces it, until the end marker."""
    item: SseEvent | ErrorReply | None = first
    try:
        while item is not None:
            if isinstance(item, ErrorReply):
                yield sse.encode_event("error", item.body())
            else:
                yield sse.encode_event(item.name, item.data)
            item = await turn.next()
    finally:
        await turn.close()


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing to buffer more than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "body_too_large", f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "body_too_large", f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        ErrorReply(codes.get(exc.status_code, "http_error"), str(exc.detail), exc.status_code)
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error")
    return error_response(ErrorReply("internal_error", "internal error", 500))


def create_app(
    settings: Settings | None = None,
    *,
    boto_session: boto3.Session | None = None,
    runtime_client: SageMakerRuntimeClient | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Starlette:
    """Build the app; settings default to the `AGENT_*` environment, retries to `RetryPolicy()`.

    The one `sagemaker-runtime` client every request's model uses is created here (from `boto_session`,
    with the model timeouts) unless `runtime_client` is given.

    Raises:
        SettingsError: if the configuration is invalid, naming each bad variable.

    """
    settings = settings if settings is not None else Settings.from_env()
    session = boto_session if boto_session is not None else boto3.Session(region_name=settings.region)
    try:
        # A bad endpoint/format setting fails now, not on the first request.
        validate_model_config(settings)
        client = (
            runtime_client if runtime_client is not None else create_runtime_client(session, settings.region)
        )
    except (ValueError, BotoCoreError) as exc:
        raise SettingsError(
            f"AGENT_ENDPOINT_NAME / AGENT_REGION / AGENT_RESPONSE_FORMAT rejected by the provider: {exc}"
        ) from exc
    sessions = (
        SessionStore(settings.sessions_bucket, session) if settings.sessions_bucket is not None else None
    )
    service = ChatService(settings, AgentFactory(settings, client, retry_policy or RetryPolicy()), sessions)
    return Starlette(
        routes=[
            Route("/chat", service.chat, methods=["POST"]),
            Route("/health", service.health, methods=["GET"]),
            *ChatPage(settings).routes(),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )


def __getattr__(name: str) -> Any:
    # PEP 562: `agent_api.app:app` (uvicorn, the Lambda Web Adapter's run.sh) builds the app on first access.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
