"""The agent API: a Starlette app streaming a Strands agent's answer as server-sent events.

`agent_api.app:app` is built on first access from the `AGENT_*` environment (so importing this module, e.g.
for `create_app`, needs no configuration); `create_app(settings)` builds one from explicit settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent_api import sse
from agent_api.agent_factory import AgentFactory, RetryPolicy
from agent_api.errors import ApiError, classify
from agent_api.observability import RequestMetrics, logger, request_id_from_headers
from agent_api.sessions import SessionBusyError, SessionLease, SessionStore
from agent_api.settings import Settings, SettingsError
from agent_api.turn import AgentTurn, StreamEvent
from agent_api.validation import (
    ChatRequest,
    RequestError,
    check_content_type,
    max_body_bytes,
    parse_chat_request,
)


def error_response(status: int, code: str, message: str, request_id: str | None = None) -> JSONResponse:
    """Build a JSON error body `{"code", "message"}`; the request id rides in a header for support."""
    headers = {"x-request-id": request_id} if request_id else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


class ChatService:
    """The `/chat` and `/health` handlers, holding what lives for the whole process."""

    def __init__(self, settings: Settings, boto_session: boto3.Session, retry_policy: RetryPolicy) -> None:
        self.settings = settings
        self.factory = AgentFactory(settings, boto_session, retry_policy)
        self.sessions = (
            SessionStore(settings.sessions_bucket, boto_session)
            if settings.sessions_bucket is not None
            else None
        )

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
            return error_response(exc.status, exc.code, exc.message, request_id)
        logger.info(
            "chat request accepted",
            extra={
                "session_id": chat_request.session_id,
                "prompt_chars": len(chat_request.prompt),
                "max_tokens": chat_request.max_tokens,
            },
        )

        lease: SessionLease | None = None
        if chat_request.session_id is not None and self.sessions is not None:
            try:
                lease = await asyncio.to_thread(self.sessions.acquire, chat_request.session_id)
            except SessionBusyError:
                logger.info("chat request rejected", extra={"code": "session_busy", "status": 409})
                return error_response(
                    409,
                    "session_busy",
                    "another request is being answered on this session; retry when it has finished",
                    request_id,
                )
            except Exception as exc:
                return self._failed_before_stream(classify(exc, request_id), exc, request_id)
        return await self._start_turn(chat_request, lease, request_id)

    async def _start_turn(
        self, chat_request: ChatRequest, lease: SessionLease | None, request_id: str
    ) -> Response:
        metrics = RequestMetrics(self.settings.metrics_namespace, self.settings.service_name)

        async def release() -> None:
            if lease is not None and self.sessions is not None:
                await asyncio.to_thread(self.sessions.release, lease)

        try:
            if self.sessions is not None and chat_request.session_id is not None:
                session_manager = self.sessions.session_manager(chat_request.session_id)
                # Loading a session reads S3 synchronously: keep it off the event loop.
                agent = await asyncio.to_thread(self.factory.agent, chat_request, session_manager)
            else:
                # Without a session nothing blocks, and a thread hop would only delay the first token.
                agent = self.factory.agent(chat_request, None)
        except Exception as exc:
            await release()
            metrics.error()
            metrics.flush()
            return self._failed_before_stream(classify(exc, request_id), exc, request_id)

        turn = AgentTurn(
            agent,
            chat_request.prompt,
            session_id=chat_request.session_id,
            request_id=request_id,
            metrics=metrics,
            on_end=release,
        )
        turn.start()
        first = await turn.next()
        if isinstance(first, ApiError):
            await turn.close()
            metrics.flush()
            return error_response(first.status, first.code, first.message, request_id)
        return StreamingResponse(
            _stream(turn, first, metrics),
            media_type=sse.MEDIA_TYPE,
            headers={**sse.HEADERS, "x-request-id": request_id},
        )

    def _failed_before_stream(self, error: ApiError, exc: Exception, request_id: str) -> JSONResponse:
        logger.warning(
            "chat request failed before streaming",
            extra={"code": error.code, "exception": type(exc).__name__},
            exc_info=exc if error.code == "internal_error" else None,
        )
        return error_response(error.status, error.code, error.message, request_id)


async def _stream(
    turn: AgentTurn, first: StreamEvent | None, metrics: RequestMetrics
) -> AsyncIterator[bytes]:
    """Yield the response body: every event as soon as the agent produces it, until the end marker."""
    item: StreamEvent | ApiError | None = first
    try:
        while item is not None:
            if isinstance(item, ApiError):
                yield sse.encode_event("error", {"code": item.code, "message": item.message})
            else:
                yield sse.encode_event(item.name, item.data)
            item = await turn.next()
    finally:
        try:
            await turn.close()
        finally:
            metrics.flush()


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
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "internal error")


def create_app(
    settings: Settings | None = None,
    *,
    boto_session: boto3.Session | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Starlette:
    """Build the app; settings default to the `AGENT_*` environment, retries to `RetryPolicy()`.

    Raises:
        SettingsError: if the configuration is invalid, naming each bad variable.

    """
    settings = settings if settings is not None else Settings.from_env()
    session = boto_session if boto_session is not None else boto3.Session(region_name=settings.region)
    service = ChatService(settings, session, retry_policy or RetryPolicy())
    _check_provider_config(service.factory)
    return Starlette(
        routes=[
            Route("/chat", service.chat, methods=["POST"]),
            Route("/health", service.health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )


def _check_provider_config(factory: AgentFactory) -> None:
    """Build one provider at start so a bad endpoint/format setting fails now, not on the first request."""
    try:
        factory.model(factory.settings.max_tokens, factory.settings.temperature)
    except (ValueError, BotoCoreError) as exc:
        raise SettingsError(
            f"AGENT_ENDPOINT_NAME / AGENT_REGION / AGENT_RESPONSE_FORMAT rejected by the provider: {exc}"
        ) from exc


def __getattr__(name: str) -> Any:
    # PEP 562: `agent_api.app:app` (uvicorn, the Lambda Web Adapter's run.sh) builds the app on first access.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
