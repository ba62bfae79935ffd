"""What the agent API and its deployment agree on: its settings, routes, request rules, tools and timeouts.

One place for each fact. The Lambda imports this module: `Settings.from_env` reads the settings table
(`SETTINGS`) and the request validation applies its rules. The CDK app loads this file and the one it
imports (`setting_kinds`, stacks/agent_api/lambda_contract.py) to validate `cdk.json` with the same rules,
to set every variable of the function explicitly and to derive the API's request model and the docs' table
of settings. So it imports nothing but the standard library and `setting_kinds`. Patterns are matched whole
(`fullmatch`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from . import mcp_servers, tool_catalog
from .fallback_settings import FallbackKind
from .setting_kinds import Boolean, Choice, Integer, Json, NameList, Number, Prose, Setting, Text

# --- Values the settings and the requests share -------------------------------------------------------
# SageMaker's naming rule for endpoints.
ENDPOINT_NAME_PATTERN: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# SageMaker's naming rule for inference components (CreateInferenceComponent, botocore's model).
INFERENCE_COMPONENT_NAME_PATTERN: Final = re.compile(r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?")
INFERENCE_COMPONENT_NAME_MAX_CHARS: Final = 63
REGION_PATTERN: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
RESPONSE_FORMAT_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_SYSTEM_PROMPT: Final = (
    "You are a helpful assistant. Answer concisely. Use the available tools when they help, "
    "and say so when you do not know something."
)
# A request's `max_tokens` and `temperature` obey these too: `AGENT_MAX_TOKENS` is both the default and the
# cap of a request's `max_tokens` (agent_api.validation, and API Gateway's request model).
MAX_TOKENS: Final = Integer(1, 1_000_000)
TEMPERATURE: Final = Number(0.0, 2.0)
# The Python tools there are: the built-ins of lambda/agent_api/tools.py (`get_weather` is an opt-in demo tool
# for the local stack) and the team's own in lambda/team_tools/, found in their source (docs/tools.md).
TOOL_CATALOG: Final = tool_catalog.discover(Path(__file__).resolve().parents[1])
TOOL_NAMES: Final = TOOL_CATALOG.names
# The tool-call syntaxes the provider reads from an answer's text (a test checks they are
# sagemaker_provider.text_tool_calls.SYNTAXES), and `false` for none.
TEXT_TOOL_CALL_SYNTAXES: Final = ("llama3_json", "hermes", "mistral")
TEXT_TOOL_CALLS_OFF: Final = "false"
# S3's general-purpose bucket naming rule, without dots (they break virtual-hosted TLS).
BUCKET_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
SERVICE_NAME: Final = "agent-api"
METRICS_NAMESPACE: Final = "SageMakerStrandsAgent"
# The app's count of its `503 model_warming` refusals: expected answers while a model scaled to zero wakes,
# which the stack's API 5XX alarm leaves out (stacks/monitoring.py). Powertools dimensions it by `service`.
MODEL_WARMING_REFUSALS_METRIC: Final = "ModelWarmingRefusals"
# The per-turn metrics the app writes (agent_api.observability) and the dashboard charts
# (stacks/monitoring.py): each answered turn's tokens in and out and its tool calls, one value per turn, and
# each turn stopped because its client went away.
INPUT_TOKENS_METRIC: Final = "InputTokens"
OUTPUT_TOKENS_METRIC: Final = "OutputTokens"
TOOL_CALLS_METRIC: Final = "ToolCalls"
CANCELLED_METRIC: Final = "Cancelled"
# CloudWatch namespaces: 1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with ':' (botocore's
# PutMetricData model) nor with 'AWS/', which is reserved for AWS services (CloudWatch concepts page).
# The metrics of each tool source (an MCP server), one document per source and turn, dimensioned by `service`
# and TOOL_SOURCE_DIMENSION (the server's name): the stack's dashboard graphs them (docs/tools.md).
TOOL_SOURCE_DIMENSION: Final = "tool_source"
TOOL_SOURCE_CALLS_METRIC: Final = "ToolSourceCalls"
TOOL_SOURCE_ERRORS_METRIC: Final = "ToolSourceErrors"
TOOL_SOURCE_TIMEOUTS_METRIC: Final = "ToolSourceTimeouts"
TOOL_SOURCE_LATENCY_METRIC: Final = "ToolSourceLatency"
TOOL_SOURCE_UNAVAILABLE_METRIC: Final = "ToolSourceUnavailable"
METRICS_NAMESPACE_PATTERN: Final = re.compile(r"(?!AWS/)[A-Za-z0-9._/#-][A-Za-z0-9._/#: -]{0,254}")
METRICS_NAMESPACE_RULE: Final = (
    "a CloudWatch namespace: 1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with ':' or 'AWS/'"
)
# How callers authenticate, as `AGENT_AUTH` names it and the chat page's `config.json` reports it: `none` (the
# API itself checks no caller: the local stack), or what API Gateway checks in front of a deployed API, `iam`
# (SigV4, which a browser cannot sign) or `cognito` (a Cognito access token; the `AGENT_COGNITO_*` variables
# then say how the page signs in). The stack sets it from cdk.json's `api.auth`; `none` is the default so that
# the app run by itself, as the local stack runs it, serves a page that sends no credentials.
AUTH_NONE: Final = "none"
AUTH_IAM: Final = "iam"
AUTH_COGNITO: Final = "cognito"
AUTH_MODES: Final = (AUTH_NONE, AUTH_IAM, AUTH_COGNITO)
# The OAuth resource server of a Cognito deployment and its one scope: API Gateway's authorizer admits only
# access tokens carrying COGNITO_API_SCOPE (stacks/agent_api/sign_in.py).
COGNITO_RESOURCE_SERVER: Final = "agent-api"
COGNITO_INVOKE_SCOPE: Final = "invoke"
COGNITO_API_SCOPE: Final = f"{COGNITO_RESOURCE_SERVER}/{COGNITO_INVOKE_SCOPE}"
# The managed-login domain's origin: https and a host name, nothing after it (a prefix domain is
# https://<prefix>.auth.<region>.amazoncognito.com).
COGNITO_DOMAIN_PATTERN: Final = re.compile(r"https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
# Cognito's app client ids (botocore's cognito-idp ClientIdType: 1-128 of [\w+]).
COGNITO_CLIENT_ID_PATTERN: Final = re.compile(r"[\w+]{1,128}")
# A user pool's OpenID Connect issuer: https://cognito-idp.<region>.amazonaws.com/<user pool id> (Cognito's
# IssuerConfigurationType, "ORIGINAL"; pool ids as botocore's cognito-idp UserPoolIdType:
# [\w-]+_[0-9a-zA-Z]+).
COGNITO_ISSUER_PATTERN: Final = re.compile(
    r"https://cognito-idp\.[a-z]{2}(-[a-z]+)+-\d+\.amazonaws\.com(\.cn)?/[\w-]+_[0-9a-zA-Z]+"
)
# OAuth scopes separated by single spaces (botocore's cognito-idp ScopeType: 1-256 printable ASCII, no space).
COGNITO_SCOPE_PATTERN: Final = re.compile(
    r"[\x21\x23-\x5B\x5D-\x7E]{1,256}( [\x21\x23-\x5B\x5D-\x7E]{1,256})*"
)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
_NOT_BLANK: Final = re.compile(r"\s*\S.*", re.DOTALL)
_COGNITO_SIGN_IN: Final = "the stack: its Cognito sign-in (`api.auth: cognito`), empty under `iam`"

# --- The settings table (docs/agent-api.md, "Configuration") ---------------------------------------------
# Every variable the function reads, once: where the deployment takes it from (a cdk.json key, or the stack),
# its kind, default and meaning. Synth validates cdk.json with it (stacks/config/schema.py), the stack writes
# the function's environment from it (stacks/agent_api/construct.py), `Settings.from_env` reads it back
# (agent_api/settings.py), and docs/agent-api.md's table is generated from it
# (stacks/agent_api/settings_docs.py). Each row is named after its variable; `Setting.name` (the variable
# without its prefix, lower-case) is its field in `Settings` and its key in cdk.json's section.
AGENT_ENDPOINT_NAME: Final = Setting(
    "AGENT_ENDPOINT_NAME",
    Text(ENDPOINT_NAME_PATTERN, "a SageMaker endpoint name"),
    "SageMaker endpoint name",
    source="the stack: its endpoint",
    required=True,
)
AGENT_INFERENCE_COMPONENT_NAME: Final = Setting(
    "AGENT_INFERENCE_COMPONENT_NAME",
    Text(INFERENCE_COMPONENT_NAME_PATTERN, "an inference component name", INFERENCE_COMPONENT_NAME_MAX_CHARS),
    "the endpoint's inference component to invoke, and to wake when scaled to zero; unset or empty = the "
    "endpoint's own model",
    source="the stack: its inference component (`endpoint.mode: inference-component`), empty otherwise",
)
AGENT_REGION: Final = Setting(
    "AGENT_REGION",
    Text(REGION_PATTERN, "an AWS region name (e.g. us-east-1)"),
    "region of the endpoint",
    source="the stack: its region",
    fallback="AWS_REGION",
)
AGENT_RESPONSE_FORMAT: Final = Setting(
    "AGENT_RESPONSE_FORMAT",
    Text(RESPONSE_FORMAT_PATTERN, "a response format name (1-64 of a-z 0-9 _ -, e.g. auto, openai-chat)"),
    "provider response format (`auto`, `openai-chat`, `tgi`, `lmi`, ...; docs/provider.md)",
    default="auto",
    key="agent.response_format",
)
AGENT_TEXT_TOOL_CALLS: Final = Setting(
    "AGENT_TEXT_TOOL_CALLS",
    Choice((*TEXT_TOOL_CALL_SYNTAXES, TEXT_TOOL_CALLS_OFF)),
    "the model family's tool-call syntax, read from an answer's text where the server's tool parser left a "
    'call there (docs/provider.md, "Tool calls left in the text"); `false` reads none',
    default=TEXT_TOOL_CALLS_OFF,
    source="the stack: the syntax of `model.profile`'s tool-call parser (or of `model.tool_call_parser`)",
)
AGENT_SYSTEM_PROMPT: Final = Setting(
    "AGENT_SYSTEM_PROMPT",
    Prose(),
    "system prompt",
    default=DEFAULT_SYSTEM_PROMPT,
    key="agent.system_prompt",
    default_text="a short built-in one",
)
AGENT_MAX_TOKENS: Final = Setting(
    "AGENT_MAX_TOKENS",
    MAX_TOKENS,
    "default and cap of per-request `max_tokens`",
    default=1024,
    key="agent.max_tokens",
)
AGENT_TEMPERATURE: Final = Setting(
    "AGENT_TEMPERATURE", TEMPERATURE, "default temperature", default=0.2, key="agent.temperature"
)
AGENT_TOOLS: Final = Setting(
    "AGENT_TOOLS",
    NameList(TOOL_NAMES, "tool"),
    'enabled tools (section "Tools" below); empty = none',
    default="current_time,calculator",
    key="agent.tools",
)
AGENT_MCP_SERVERS: Final = Setting(
    "AGENT_MCP_SERVERS",
    Json(mcp_servers.problems, mcp_servers.SHAPE, mcp_servers.parse),
    "MCP servers whose tools the agent uses besides `AGENT_TOOLS` (docs/tools.md); `[]` = none",
    default=[],
    key="agent.mcp_servers",
)
AGENT_SESSIONS_BUCKET: Final = Setting(
    "AGENT_SESSIONS_BUCKET",
    Text(BUCKET_PATTERN, "a valid S3 bucket name"),
    "S3 bucket for sessions; unset or empty = sessions disabled",
    source="the stack: its sessions bucket",
)
AGENT_MAX_PROMPT_CHARS: Final = Setting(
    "AGENT_MAX_PROMPT_CHARS",
    Integer(1, 10_000_000),
    "maximum prompt length in characters",
    default=16_000,
    key="agent.max_prompt_chars",
)
AGENT_STREAM_REASONING: Final = Setting(
    "AGENT_STREAM_REASONING",
    Boolean(),
    "stream the model's reasoning as `reasoning` events",
    default=True,
    key="agent.stream_reasoning",
)
AGENT_AUTH: Final = Setting(
    "AGENT_AUTH",
    Choice(AUTH_MODES),
    "how callers authenticate, as the chat page is told (`config.json`): `none` (the API checks no caller: "
    "the app run by itself), `iam` or `cognito` (API Gateway checks them, and a session request without "
    "its request context is refused, see [Security](#security))",
    default=AUTH_NONE,
    source="the stack: `api.auth`",
)
AGENT_COGNITO_DOMAIN: Final = Setting(
    "AGENT_COGNITO_DOMAIN",
    Text(COGNITO_DOMAIN_PATTERN, "an https:// origin (no path)"),
    "sign-in for the chat page: the managed-login origin, `https://<prefix>.auth.<region>.amazoncognito.com` "
    "(its `/oauth2/authorize` and `/oauth2/token`); required, with the next three, when `AGENT_AUTH` is "
    "`cognito`, and refused otherwise (empty counts as unset)",
    source=_COGNITO_SIGN_IN,
)
AGENT_COGNITO_CLIENT_ID: Final = Setting(
    "AGENT_COGNITO_CLIENT_ID",
    Text(COGNITO_CLIENT_ID_PATTERN, "a Cognito app client id"),
    "sign-in for the chat page: the public app client (authorization code with PKCE, no secret)",
    source=_COGNITO_SIGN_IN,
)
AGENT_COGNITO_SCOPE: Final = Setting(
    "AGENT_COGNITO_SCOPE",
    Text(COGNITO_SCOPE_PATTERN, "OAuth scopes separated by single spaces"),
    f"sign-in for the chat page: the scopes to request; they include the API's `{COGNITO_API_SCOPE}`, which "
    "API Gateway requires in the access token",
    source=_COGNITO_SIGN_IN,
)
AGENT_COGNITO_ISSUER: Final = Setting(
    "AGENT_COGNITO_ISSUER",
    Text(
        COGNITO_ISSUER_PATTERN,
        "a Cognito user pool's issuer, https://cognito-idp.<region>.amazonaws.com/<pool id>",
    ),
    "the authorization server MCP clients discover: the user pool's OpenID Connect issuer, which the MCP "
    'server\'s OAuth protected-resource metadata names (docs/agent-api.md, "MCP server")',
    source=_COGNITO_SIGN_IN,
)
# Powertools reads these itself (service, namespace, log level); the settings check them too.
POWERTOOLS_SERVICE_NAME: Final = Setting(
    "POWERTOOLS_SERVICE_NAME",
    Text(_NOT_BLANK, "a service name (not blank)"),
    "`service` in logs and metrics",
    default=SERVICE_NAME,
    source=f"the stack: `{SERVICE_NAME}`",
)
POWERTOOLS_METRICS_NAMESPACE: Final = Setting(
    "POWERTOOLS_METRICS_NAMESPACE",
    Text(METRICS_NAMESPACE_PATTERN, METRICS_NAMESPACE_RULE),
    "CloudWatch metrics namespace",
    default=METRICS_NAMESPACE,
    key="agent.metrics_namespace",
)
POWERTOOLS_LOG_LEVEL: Final = Setting(
    "POWERTOOLS_LOG_LEVEL", Choice(LOG_LEVELS), "log level", default="INFO", key="agent.log_level"
)

# --- Traces (docs/agent-api.md, "Traces") ----------------------------------------------------------------
# Where the turns' OpenTelemetry traces go: nowhere, CloudWatch's OTLP traces endpoint (SigV4-signed with the
# function's role), or any OTLP/HTTP endpoint (Langfuse, Phoenix, Honeycomb, a collector).
TRACES_OFF: Final = "off"
TRACES_CLOUDWATCH: Final = "cloudwatch"
TRACES_OTLP: Final = "otlp"
TRACE_MODES: Final = (TRACES_OFF, TRACES_CLOUDWATCH, TRACES_OTLP)
# An OTLP/HTTP base URL: the exporter sends a turn's spans to <URL>/v1/traces (OpenTelemetry's own rule for
# OTEL_EXPORTER_OTLP_ENDPOINT). No query or fragment: the signal path is appended to it.
OTLP_ENDPOINT_PATTERN: Final = re.compile(r"https?://[^\s/?#@]+(/[^\s?#]*)?")
# Secrets Manager's secret names (botocore's CreateSecret Name: 1-512 of these characters).
SECRET_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
# How long the end of a turn waits for its spans to be exported, at most: the trace of a turn whose collector
# is slow or unreachable is dropped after this long, and the turn itself never fails (agent_api.tracing).
TRACE_EXPORT_BUDGET_SECONDS: Final = 1.0
# An export's own timeout, retries included: below the OTLP exporter's shortest backoff (2^0 s less its 20 %
# jitter, opentelemetry.exporter.otlp.common.http), so a refused or failed export fails at once instead of
# sleeping through the turn's budget before a retry that would come too late anyway.
TRACE_EXPORT_TIMEOUT_SECONDS: Final = 0.75
AGENT_TRACES: Final = Setting(
    "AGENT_TRACES",
    Choice(TRACE_MODES),
    "where each turn's trace is exported: `off`, `cloudwatch` (CloudWatch's OTLP traces endpoint, signed "
    "with the function's role; needs the account's Transaction Search) or `otlp` (any OTLP/HTTP endpoint, "
    "`AGENT_OTLP_ENDPOINT`)",
    default=TRACES_OFF,
    key="observability.traces",
)
AGENT_CAPTURE_CONTENT: Final = Setting(
    "AGENT_CAPTURE_CONTENT",
    Boolean(),
    "keep prompts, answers, the system prompt and tool inputs and results in the spans (otherwise they are "
    "removed before export)",
    default=False,
    key="observability.capture_content",
)
# OpenTelemetry's own variables for the endpoint: the base URL, and the full URL of traces (which wins).
OTEL_ENDPOINT_VARIABLE: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_TRACES_ENDPOINT_VARIABLE: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
AGENT_OTLP_ENDPOINT: Final = Setting(
    "AGENT_OTLP_ENDPOINT",
    Text(OTLP_ENDPOINT_PATTERN, "an http:// or https:// URL without credentials, query or fragment"),
    "`otlp`: the OTLP/HTTP endpoint's base URL (spans go to `<URL>/v1/traces`; "
    f"`{OTEL_TRACES_ENDPOINT_VARIABLE}` names a full URL instead)",
    key="observability.otlp_endpoint",
    fallback=OTEL_ENDPOINT_VARIABLE,
)
AGENT_OTLP_HEADERS_SECRET: Final = Setting(
    "AGENT_OTLP_HEADERS_SECRET",
    Text(SECRET_NAME_PATTERN, "a Secrets Manager secret name"),
    "`otlp`: a secret holding the headers of every export (API keys), as a JSON object of names to values "
    "or as `OTEL_EXPORTER_OTLP_HEADERS` writes them (`name=value,...`); read when the first trace is sent",
    key="observability.otlp_headers_secret",
)
TRACE_SETTINGS: Final = (AGENT_TRACES, AGENT_CAPTURE_CONTENT, AGENT_OTLP_ENDPOINT, AGENT_OTLP_HEADERS_SECRET)


def trace_problems(traces: str, endpoint_given: bool, where: str) -> list[str]:
    """Return what is wrong with how traces are configured: synth and the app both apply this rule.

    ``where`` says how the endpoint is given (a cdk.json key at synth, variables in the app).
    """
    if traces == TRACES_OTLP and not endpoint_given:
        return [f"{TRACES_OTLP!r} needs the OTLP endpoint: set {where}"]
    return []


# The fallback model (issue 23; docs/agent-api.md, "A fallback model"); agent_api.fallback_settings holds
# its shape.
AGENT_FALLBACK: Final = Setting(
    "AGENT_FALLBACK",
    FallbackKind(
        endpoint_name=AGENT_ENDPOINT_NAME.kind,
        inference_component_name=AGENT_INFERENCE_COMPONENT_NAME.kind,
        response_format=AGENT_RESPONSE_FORMAT.kind,
        text_tool_calls=AGENT_TEXT_TOOL_CALLS.kind,
        max_tokens=MAX_TOKENS,
    ),
    "the model that answers at once while the endpoint's own model has no copy in service (and, with "
    "`AGENT_FALLBACK_ON_THROTTLE`, while it throttles): an Amazon Bedrock model or another SageMaker "
    "endpoint (see [A fallback model](#a-fallback-model)); unset or empty = none",
    key="endpoint.fallback",
)
AGENT_FALLBACK_ON_THROTTLE: Final = Setting(
    "AGENT_FALLBACK_ON_THROTTLE",
    Boolean(),
    "the fallback also answers, at once, when the own model throttles (every copy busy) before it produced "
    "anything, instead of the throttled call being retried; needs `AGENT_FALLBACK`",
    default=False,
    key="endpoint.fallback_on_throttle",
)

SETTINGS: Final = (
    AGENT_ENDPOINT_NAME,
    AGENT_INFERENCE_COMPONENT_NAME,
    AGENT_REGION,
    AGENT_RESPONSE_FORMAT,
    AGENT_TEXT_TOOL_CALLS,
    AGENT_SYSTEM_PROMPT,
    AGENT_MAX_TOKENS,
    AGENT_TEMPERATURE,
    AGENT_TOOLS,
    AGENT_MCP_SERVERS,
    AGENT_SESSIONS_BUCKET,
    AGENT_MAX_PROMPT_CHARS,
    AGENT_STREAM_REASONING,
    AGENT_AUTH,
    AGENT_COGNITO_DOMAIN,
    AGENT_COGNITO_CLIENT_ID,
    AGENT_COGNITO_SCOPE,
    AGENT_COGNITO_ISSUER,
    POWERTOOLS_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL,
    *TRACE_SETTINGS,
    # The fallback model (issue 23).
    AGENT_FALLBACK,
    AGENT_FALLBACK_ON_THROTTLE,
)
# An unknown variable with this prefix stops the app at start (a typo must not be ignored).
VARIABLE_PREFIX: Final = "AGENT_"
# How callers sign in under `cognito` (the chat page, MCP clients): all of them with AGENT_AUTH=cognito, none
# of them otherwise.
COGNITO_SETTINGS: Final = (
    AGENT_COGNITO_DOMAIN,
    AGENT_COGNITO_CLIENT_ID,
    AGENT_COGNITO_SCOPE,
    AGENT_COGNITO_ISSUER,
)
COGNITO_VARIABLES: Final = tuple(setting.variable for setting in COGNITO_SETTINGS)


# --- The HTTP API -----------------------------------------------------------------------------------------
CHAT_PATH: Final = "/chat"
HEALTH_PATH: Final = "/health"
# The OpenAI-compatible routes (docs/agent-api.md, "OpenAI-compatible API"): clients take `/v1` as base URL.
OPENAI_PREFIX: Final = "/v1"
OPENAI_CHAT_COMPLETIONS_PATH: Final = f"{OPENAI_PREFIX}/chat/completions"
OPENAI_MODELS_PATH: Final = f"{OPENAI_PREFIX}/models"
# OpenAI's Responses API (docs/agent-api.md, "Responses API"): `POST`, and `GET`/`DELETE` of a stored one.
OPENAI_RESPONSES_PATH: Final = f"{OPENAI_PREFIX}/responses"
# The agent as an MCP server (docs/agent-api.md, "MCP server"): Streamable HTTP, and under Cognito the OAuth
# protected-resource metadata MCP clients discover the sign-in from (RFC 9728, path-inserted before `/mcp`).
MCP_PATH: Final = "/mcp"
PROTECTED_RESOURCE_METADATA_PATH: Final = f"/.well-known/oauth-protected-resource{MCP_PATH}"
# The one model the OpenAI-compatible routes serve: the agent (its tools and system prompt included).
OPENAI_MODEL_ID: Final = "agent"
# The request header naming a stored session to continue on `/v1/chat/completions` (the body is OpenAI's).
SESSION_ID_HEADER: Final = "X-Session-Id"
# The model's state (in service, warming, scaled to zero) and the request that wakes it (issue 12).
STATUS_PATH: Final = "/status"
WARM_PATH: Final = "/warm"
# The chat page, and the JSON it reads at start: `{"auth": ..., "sessions": bool}` and, under `cognito`, how
# it signs in (docs/agent-api.md, "The chat page"). API Gateway serves both without authorization: a browser
# must load them before it can sign in.
PAGE_PATH: Final = "/"
PAGE_CONFIG_PATH: Final = "/config.json"
REQUEST_FIELDS: Final = ("prompt", "session_id", "max_tokens", "temperature", "wait")
# A session id becomes part of S3 keys, so only a strict alphabet is accepted; the character classes are
# kept apart so that API Gateway's request model can state the same rule (stacks/agent_api/rest_api.py).
SESSION_ID_MAX_CHARS: Final = 128
SESSION_ID_FIRST_CHARS: Final = "A-Za-z0-9"
SESSION_ID_CHARS: Final = "A-Za-z0-9_-"
SESSION_ID_PATTERN: Final = re.compile(
    f"[{SESSION_ID_FIRST_CHARS}][{SESSION_ID_CHARS}]{{0,{SESSION_ID_MAX_CHARS - 1}}}"
)

# The largest session object the agent API writes (the whole conversation window as JSON). A turn that would
# grow a session past it answers `session_too_large` and leaves the stored session as it was. Measured with
# benchmarks/session_bench.py (docs/agent-api.md, Sessions): loading and saving a session this size takes a
# fraction of a second and well under the smallest function memory; any model's context window is full long
# before the conversation reaches it, unless tool results carry large binary content.
SESSION_MAX_BYTES: Final = 16 * 1024 * 1024

# --- Timeouts ---------------------------------------------------------------------------------------------
# A stalled endpoint fails the request instead of holding the function until its timeout.
MODEL_CONNECT_TIMEOUT_SECONDS: Final = 5
MODEL_READ_TIMEOUT_SECONDS: Final = 60
# The longest total backoff of a throttled request (agent_api.agent_factory.RetryPolicy stays within it).
RETRY_BACKOFF_BUDGET_SECONDS: Final = 10
# Waking an inference component scaled to zero (docs/agent-api.md, "Scaled to zero"). API Gateway ends a
# streamed response after 15 minutes in all, and after 5 idle minutes on a regional endpoint (30 s on an
# edge-optimized one) ("Stream the integration response for your proxy integrations in API Gateway"). A
# chat request waits for a copy at most WARMING_BUDGET_SECONDS, leaving the rest of the 15 minutes to the
# answer; while it waits it checks the model every WARMING_POLL_SECONDS and sends a `status` event each
# time, so the stream is never idle for long.
API_GATEWAY_STREAM_LIMIT_SECONDS: Final = 15 * 60
WARMING_BUDGET_SECONDS: Final = 10 * 60
WARMING_POLL_SECONDS: Final = 10
# The Retry-After of a `model_warming` answer to a caller that does not wait: a copy takes minutes.
WARMING_RETRY_AFTER_SECONDS: Final = 60
# A shorter function timeout would cut off a model response the agent is still allowed to wait for.
MIN_LAMBDA_TIMEOUT_SECONDS: Final = MODEL_READ_TIMEOUT_SECONDS
# With a model that scales to zero, one request may wait the whole warming budget before its answer.
MIN_LAMBDA_TIMEOUT_SCALE_TO_ZERO_SECONDS: Final = WARMING_BUDGET_SECONDS + MIN_LAMBDA_TIMEOUT_SECONDS
