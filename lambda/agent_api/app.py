"""The agent API: a Starlette app streaming a Strands agent's answer as server-sent events.

`agent_api.app:app` is built on first access from the `AGENT_*` environment (so importing this module, e.g.
for `create_app`, needs no configuration); `create_app(settings)` builds one from explicit settings.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from strands import Agent
from strands.types.tools import AgentTool

from agent_api import contract, openai_api, sse
from agent_api.agent_factory import AgentFactory, RetryPolicy, create_runtime_client, validate_model_config
from agent_api.errors import MODEL_WARMING, ErrorReply, classify, http_error_reply, unexpected_error_reply
from agent_api.observability import RequestMetrics, logger, request_id_from_headers
from agent_api.page import ChatPage
from agent_api.python_tools import ToolLoadError
from agent_api.session_owner import SessionOwnerUnknownError, owner_from_headers
from agent_api.sessions import SessionBusyError, SessionLease, SessionStore
from agent_api.settings import Settings, SettingsError
from agent_api.turn import AgentTurn, SseEvent
from agent_api.validation import (
    ChatRequest,
    RequestError,
    check_content_type,
    max_body_bytes,
    parse_chat_request,
    read_body,
)
from agent_api.warming import Warmer, WarmingPolicy, WarmingService

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from agent_api.tool_sources import ToolSources


def error_response(error: ErrorReply, request_id: str | None = None) -> JSONResponse:
    """Answer with the error's JSON body and status; the request id rides in a header for support."""
    headers = {"x-request-id": request_id} if request_id else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


class ChatService:
    """The `/chat` and `/health` handlers, holding what lives for the whole process.

    `sessions` is the session store when the settings enable sessions; validation accepts a request's
    `session_id` only then. `warming` wakes a model scaled to zero when a turn finds no copy in service.
    `metrics` makes each request's metrics. `tool_sources` are the MCP servers, if any are configured.
    """

    def __init__(
        self,
        settings: Settings,
        factory: AgentFactory,
        sessions: SessionStore | None,
        warming: WarmingService,
        metrics: Callable[[], RequestMetrics],
        tool_sources: ToolSources | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.sessions = sessions
        self.warming = warming
        self._metrics = metrics
        self.tool_sources = tool_sources

    async def health(self, request: Request) -> Response:
        """Readiness check for the Lambda Web Adapter."""
        return JSONResponse({"status": "ok"})

    async def chat(self, request: Request) -> Response:
        """Answer one prompt as a `text/event-stream`; client errors are JSON 4xx before anything streams."""
        request_id = request_id_from_headers(request.headers)
        logger.thread_safe_append_keys(request_id=request_id)
        try:
            check_content_type(request.headers.get("content-type"))
            body = await read_body(request, max_body_bytes(self.settings))
            chat_request = parse_chat_request(body, self.settings)
        except RequestError as exc:
            logger.info("chat request rejected", extra={"code": exc.code, "status": exc.status})
            return error_response(ErrorReply(exc.code, exc.message, exc.status), request_id)
        except ClientDisconnect:
            # The client left before its body arrived: nobody is left to answer, and nothing was started.
            logger.info("chat request abandoned by the client before its body arrived")
            return Response(status_code=400)
        logger.info(
            "chat request accepted",
            extra={
                "session_id": chat_request.session_id,
                "prompt_chars": len(chat_request.prompt),
                "max_tokens": chat_request.max_tokens,
            },
        )

        build_agent = functools.partial(self._build_agent, chat_request)
        turn = await self.begin_turn(chat_request, request, request_id, build_agent)
        if isinstance(turn, ErrorReply):
            return error_response(turn, request_id)
        return await self._answer(request, chat_request, turn, request_id)

    async def begin_turn(
        self,
        chat_request: ChatRequest,
        request: Request,
        request_id: str,
        build_agent: Callable[[SessionLease | None, Sequence[AgentTool]], Agent],
    ) -> AgentTurn | ErrorReply:
        """Start answering `chat_request` with the agent `build_agent` makes, or say why it cannot.

        When the request names a session, the session is locked and read first and `build_agent` gets its
        lease (else None); the turn saves and releases it. `build_agent` also gets the tool sources' tools.
        """
        lease: SessionLease | None = None
        if chat_request.session_id is not None:
            opened = await self._open_session(chat_request.session_id, request, request_id)
            if isinstance(opened, ErrorReply):
                return opened
            lease = opened
        turn = AgentTurn(
            functools.partial(build_agent, lease),
            chat_request.prompt,
            session_id=chat_request.session_id,
            request_id=request_id,
            metrics=self._metrics(),
            on_answered=None if lease is None else functools.partial(asyncio.to_thread, lease.save),
            on_end=None if lease is None else functools.partial(asyncio.to_thread, lease.release),
            stream_reasoning=self.settings.stream_reasoning,
            tool_sources=self.tool_sources,
        )
        turn.start()
        return turn

    async def _open_session(
        self, session_id: str, request: Request, request_id: str
    ) -> SessionLease | ErrorReply:
        """Lock and load the caller's session, or say why this request may not use it now."""
        assert self.sessions is not None, "requests name a session_id only with sessions on"
        try:
            owner = owner_from_headers(request.headers, self.settings.auth)
            # Lock and read the whole conversation in a worker thread: S3 I/O never runs on the loop.
            return await asyncio.to_thread(self.sessions.open, session_id, owner)
        except (SessionBusyError, SessionOwnerUnknownError) as exc:
            error = _session_refusal(exc)
            logger.info("chat request rejected", extra={"code": error.code, "status": error.status})
            return error
        except Exception as exc:
            error = classify(exc, request_id)
            logger.warning(
                "chat request failed before streaming",
                extra={"code": error.code, "exception": type(exc).__name__},
                exc_info=exc if error.code == "internal_error" else None,
            )
            return error

    async def _answer(
        self, request: Request, chat_request: ChatRequest, turn: AgentTurn, request_id: str
    ) -> Response:
        """Stream the started turn's answer, or refuse the request if it failed before its first event."""
        first = await _first_event(turn, request)
        if isinstance(first, _ClientGone):
            # Nobody is left to answer: the turn is cancelled (the model call closed, the session released).
            # The status is never sent; 499 is the usual "client closed request" of access logs.
            await turn.close()
            return Response(status_code=499)
        if isinstance(first, ErrorReply):
            await turn.close()
            if first.code == MODEL_WARMING:
                return await self._model_warming(request, chat_request, first, request_id)
            return error_response(first, request_id)
        return StreamingResponse(
            _stream(turn, first),
            media_type=sse.MEDIA_TYPE,
            headers={**sse.HEADERS, "x-request-id": request_id},
        )

    async def _model_warming(
        self, request: Request, chat_request: ChatRequest, error: ErrorReply, request_id: str
    ) -> Response:
        """Wake a model found scaled to zero before anything streamed, then wait for it or refuse at once."""
        if not chat_request.wait or self.warming.warmer is None:
            return await self.warming.wake_and_refuse(error, request_id)
        # Once the model is awake the turn starts again: its session, released by the refused turn, reopened.
        build_agent = functools.partial(self._build_agent, chat_request)
        restart = functools.partial(self.begin_turn, chat_request, request, request_id, build_agent)
        return self.warming.wait_then_answer(restart, _stream, {"x-request-id": request_id})

    def _build_agent(
        self, chat_request: ChatRequest, lease: SessionLease | None, tools: Sequence[AgentTool]
    ) -> Agent:
        """Build the request's agent; with a session it starts from the conversation read with the lease."""
        session_manager = lease.session_manager() if lease is not None else None
        return self.factory.agent(chat_request, session_manager, extra_tools=tools)


def _session_refusal(exc: Exception) -> ErrorReply:
    """Answer a request that may not use its session now (busy) or at all (no known caller)."""
    if isinstance(exc, SessionBusyError):
        busy = "another request is being answered on this session; retry when it has finished"
        return ErrorReply("session_busy", busy, 409)
    return ErrorReply("session_owner_unknown", str(exc), 403)


class _ClientGone:
    """The client disconnected before the turn's first event."""


async def _first_event(turn: AgentTurn, request: Request) -> SseEvent | ErrorReply | _ClientGone | None:
    """Wait for the turn's first item, or `_ClientGone` as soon as the client disconnects.

    Until the first event the response has not started, so Starlette cannot notice a client leaving (it
    notices while it writes the body); the body has been read, so the next ASGI message is the disconnect.
    """
    first = asyncio.ensure_future(turn.next())
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({first, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Once the response streams, Starlette watches for the disconnect itself.
        gone.cancel()
    if first.done():
        return first.result()
    first.cancel()
    return _ClientGone()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


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


async def _http_error(request: Request, exc: Exception) -> Response:
    return error_response(http_error_reply(exc))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return error_response(unexpected_error_reply())


def create_app(
    settings: Settings | None = None,
    *,
    boto_session: boto3.Session | None = None,
    runtime_client: SageMakerRuntimeClient | None = None,
    retry_policy: RetryPolicy | None = None,
    sagemaker_client: SageMakerClient | None = None,
    warming_policy: WarmingPolicy | None = None,
) -> Starlette:
    """Build the app; settings default to the `AGENT_*` environment, retries to `RetryPolicy()`.

    The one `sagemaker-runtime` client every request's model uses is created here (from `boto_session`,
    with the model timeouts) unless `runtime_client` is given. With an inference component, the `sagemaker`
    client that wakes it (`sagemaker_client`, else one from `boto_session`) waits as `warming_policy` says
    (default `WarmingPolicy()`).

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
    try:
        factory = AgentFactory(settings, client, retry_policy or RetryPolicy())
    except ToolLoadError as exc:
        raise SettingsError(f"{contract.AGENT_TOOLS.variable}: {exc}") from exc
    warmer = _warmer(settings, session, sagemaker_client, factory)
    metrics = functools.partial(RequestMetrics, settings.metrics_namespace, settings.service_name)
    warming = WarmingService(warmer, warming_policy or WarmingPolicy(), metrics)
    tool_sources = _tool_sources(settings, session, factory) if settings.mcp_servers else None
    service = ChatService(settings, factory, sessions, warming, metrics, tool_sources)
    application = Starlette(
        routes=[
            Route(contract.CHAT_PATH, service.chat, methods=["POST"]),
            Route(contract.HEALTH_PATH, service.health, methods=["GET"]),
            Route(contract.STATUS_PATH, warming.status, methods=["GET"]),
            Route(contract.WARM_PATH, warming.warm, methods=["POST"]),
            *openai_api.routes(service),
            *ChatPage(settings).routes(),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )
    # Starlette answers `/chat/` with a 307 whose Location is built from the Host header; every path but
    # the two routes is the documented JSON 404 instead.
    application.router.redirect_slashes = False
    return application


def _tool_sources(settings: Settings, session: boto3.Session, factory: AgentFactory) -> ToolSources:
    """Return the configured MCP servers, each to be connected on first use.

    The `mcp` SDK takes about half a second to import, so it is imported only when servers are configured.
    """
    from agent_api.mcp_auth import SECRETS_CLIENT_CONFIG, SecretReader, http_auth
    from agent_api.tool_sources import ToolSources

    secrets = SecretReader(
        functools.cache(
            lambda: session.client(
                "secretsmanager", region_name=settings.region, config=SECRETS_CLIENT_CONFIG
            )
        )
    )
    return ToolSources(
        settings.mcp_servers, factory.tool_names, lambda server: http_auth(server.auth, secrets, session)
    )


def _warmer(
    settings: Settings, session: boto3.Session, client: SageMakerClient | None, factory: AgentFactory
) -> Warmer | None:
    """Return the configured inference component's warmer; None for a classic endpoint (always in service)."""
    if settings.inference_component_name is None:
        return None
    sagemaker: SageMakerClient = (
        client if client is not None else session.client("sagemaker", region_name=settings.region)
    )
    return Warmer(sagemaker, settings.inference_component_name, factory.signal_demand)


def __getattr__(name: str) -> Any:
    # PEP 562: `agent_api.app:app` (uvicorn, the Lambda Web Adapter's run.sh) builds the app on first access.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
