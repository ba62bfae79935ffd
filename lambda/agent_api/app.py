"""The agent API: a Starlette app answering a Strands agent's turns through its doors (`agent_api.doors`).

`agent_api.app:app` is built on first access from the `AGENT_*` environment (so importing this module, e.g.
for `create_app`, needs no configuration); `create_app(settings)` builds one from explicit settings.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api import contract
from agent_api.agent_factory import AgentFactory, RetryPolicy, create_runtime_client, validate_model_config
from agent_api.doors.chat import ChatDoor
from agent_api.doors.mcp import McpDoor
from agent_api.doors.openai.responses_door import ResponsesDoor
from agent_api.doors.openai.responses_store import ResponseStore
from agent_api.doors.openai.routes import CompletionsDoor
from agent_api.errors import ErrorReply, http_error_reply, unexpected_error_reply
from agent_api.fallback import Fallback
from agent_api.fallback_model import FallbackModel, create_bedrock_client
from agent_api.fallback_settings import BedrockFallback
from agent_api.observability import RequestMetrics
from agent_api.page import ChatPage
from agent_api.pipeline import Door, TurnPipeline, error_response
from agent_api.python_tools import ToolLoadError
from agent_api.response_headers import NoSniff
from agent_api.sessions import SessionStore
from agent_api.settings import Settings, SettingsError
from agent_api.trace_requests import TraceTurns
from agent_api.tracing import Tracing
from agent_api.turn import TurnServices
from agent_api.warming import Warmer, WarmingPolicy, WarmingService

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from agent_api.tool_sources import ToolSources


async def health(request: Request) -> Response:
    """Readiness check for the Lambda Web Adapter."""
    return JSONResponse({"status": "ok"})


# The routes that answer a turn, each traced as one request (agent_api.tracing); a POST to `/mcp` is one
# JSON-RPC request (a tool call, or the listing of the tools).
TURN_PATHS = (
    contract.CHAT_PATH,
    contract.OPENAI_CHAT_COMPLETIONS_PATH,
    contract.OPENAI_RESPONSES_PATH,
    contract.MCP_PATH,
)


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
    try:
        tracing = Tracing.from_settings(settings, session)
    except ValueError as exc:
        raise SettingsError(f"AGENT_TRACES: {exc}") from exc
    sessions: SessionStore | None = None
    responses: ResponseStore | None = None
    if settings.sessions_bucket is not None:
        # One S3 client for the sessions and the stored responses, which share the bucket.
        s3 = session.client("s3")
        sessions = SessionStore(settings.sessions_bucket, s3)
        responses = ResponseStore(settings.sessions_bucket, s3)
    try:
        factory = AgentFactory(settings, client, retry_policy or RetryPolicy())
    except ToolLoadError as exc:
        raise SettingsError(f"{contract.AGENT_TOOLS.variable}: {exc}") from exc
    fallback = _fallback(settings, session, client)
    warming = WarmingService(
        _warmer(settings, session, sagemaker_client, factory), warming_policy or WarmingPolicy()
    )
    metrics = functools.partial(RequestMetrics, settings.metrics_namespace, settings.service_name)
    pipeline = TurnPipeline(
        settings,
        TurnServices(
            factory,
            warming,
            metrics,
            settings.stream_reasoning,
            tool_sources=_tool_sources(settings, session, factory) if settings.mcp_servers else None,
            fallback=fallback,
        ),
        sessions,
    )
    # The doors: each a route (or a few) of the pipeline, and the wording of errors on the paths it claims.
    mcp = McpDoor(settings)
    doors: tuple[Door, ...] = (
        ChatDoor(settings),
        CompletionsDoor(settings),
        ResponsesDoor(settings, responses),
        mcp,
    )
    errors = _ErrorAnswers(doors)
    application = Starlette(
        routes=[
            *[route for door in doors for route in door.routes(pipeline)],
            Route(contract.HEALTH_PATH, health, methods=["GET"]),
            Route(contract.STATUS_PATH, warming.status, methods=["GET"]),
            Route(contract.WARM_PATH, warming.warm, methods=["POST"]),
            *ChatPage(settings).routes(),
        ],
        exception_handlers={HTTPException: errors.http_error, Exception: errors.unexpected_error},
        # Every answer is read as the media type it names (agent_api.response_headers); each turn's trace is
        # exported before its response ends (agent_api.trace_requests).
        middleware=[Middleware(NoSniff), Middleware(TraceTurns, tracing=tracing, paths=TURN_PATHS)],
        # The MCP server's transport runs for the app's lifetime (uvicorn runs the lifespan: `lambda/run.sh`).
        lifespan=lambda _app: mcp.run(),
    )
    # Starlette answers `/chat/` with a 307 whose Location is built from the Host header; every path but
    # the routes is the documented JSON 404 instead.
    application.router.redirect_slashes = False
    return application


class _ErrorAnswers:
    """Answers 404, 405 and unexpected errors in the words of the door whose paths they are on."""

    def __init__(self, doors: tuple[Door, ...]) -> None:
        # The longest prefix claiming a path wins.
        self._doors = sorted(doors, key=lambda door: len(door.prefix), reverse=True)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        return self._answer(request, http_error_reply(exc))

    async def unexpected_error(self, request: Request, exc: Exception) -> Response:
        return self._answer(request, unexpected_error_reply())

    def _answer(self, request: Request, error: ErrorReply) -> Response:
        path = request.url.path
        door = next(door for door in self._doors if path.startswith(door.prefix))
        return error_response(door, error)


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


def _fallback(
    settings: Settings, session: boto3.Session, runtime_client: SageMakerRuntimeClient
) -> Fallback | None:
    """Return the configured fallback model (agent_api.fallback), or None.

    A Bedrock fallback gets the process's one `bedrock-runtime` client, created now, in the settings' region.

    Raises:
        SettingsError: the provider rejects an endpoint fallback's configuration.

    """
    if settings.fallback is None:
        return None
    try:
        bedrock = (
            create_bedrock_client(session, settings.region)
            if isinstance(settings.fallback, BedrockFallback)
            else None
        )
        model = FallbackModel(settings.fallback, bedrock_client=bedrock, runtime_client=runtime_client)
    except (ValueError, BotoCoreError) as exc:
        raise SettingsError(f"{contract.AGENT_FALLBACK.variable} rejected: {exc}") from exc
    return Fallback(model, settings.fallback_on_throttle)


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
