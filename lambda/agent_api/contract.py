"""What the agent API and its deployment agree on: variables, defaults, bounds, patterns, tools, timeouts.

One place for each fact. The Lambda imports this module: `Settings.from_env` and the request validation apply
its rules. The CDK app loads this one file (`stacks/agent_api/lambda_contract.py`) to validate `cdk.json`
with the same rules, to set every variable of the function explicitly and to derive the API's request model.
So it imports nothing but the standard library. Patterns are matched whole (`fullmatch`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

# --- The function's environment variables (docs/agent-api.md, "Configuration") ---------------------------
ENV_ENDPOINT_NAME: Final = "AGENT_ENDPOINT_NAME"
# Unset or empty: invoke the endpoint's own model (single-model mode); set: invoke this inference component.
ENV_INFERENCE_COMPONENT_NAME: Final = "AGENT_INFERENCE_COMPONENT_NAME"
ENV_REGION: Final = "AGENT_REGION"
ENV_RESPONSE_FORMAT: Final = "AGENT_RESPONSE_FORMAT"
ENV_SYSTEM_PROMPT: Final = "AGENT_SYSTEM_PROMPT"
ENV_MAX_TOKENS: Final = "AGENT_MAX_TOKENS"
ENV_TEMPERATURE: Final = "AGENT_TEMPERATURE"
ENV_TOOLS: Final = "AGENT_TOOLS"
ENV_SESSIONS_BUCKET: Final = "AGENT_SESSIONS_BUCKET"
ENV_MAX_PROMPT_CHARS: Final = "AGENT_MAX_PROMPT_CHARS"
ENV_STREAM_REASONING: Final = "AGENT_STREAM_REASONING"
# How callers of the deployed API authenticate (AUTH_MODES), which the chat page must know to reach it.
ENV_AUTH: Final = "AGENT_AUTH"
# Cognito sign-in of a `api.auth: cognito` environment, for the chat page: required when AGENT_AUTH is
# cognito, empty or unset otherwise.
ENV_COGNITO_DOMAIN: Final = "AGENT_COGNITO_DOMAIN"
ENV_COGNITO_CLIENT_ID: Final = "AGENT_COGNITO_CLIENT_ID"
ENV_COGNITO_SCOPE: Final = "AGENT_COGNITO_SCOPE"
# Powertools reads these itself (service, namespace, log level); the settings check them too.
ENV_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"

AGENT_VARIABLES: Final = frozenset(
    {
        ENV_ENDPOINT_NAME,
        ENV_INFERENCE_COMPONENT_NAME,
        ENV_REGION,
        ENV_RESPONSE_FORMAT,
        ENV_SYSTEM_PROMPT,
        ENV_MAX_TOKENS,
        ENV_TEMPERATURE,
        ENV_TOOLS,
        ENV_SESSIONS_BUCKET,
        ENV_MAX_PROMPT_CHARS,
        ENV_STREAM_REASONING,
        ENV_AUTH,
        ENV_COGNITO_DOMAIN,
        ENV_COGNITO_CLIENT_ID,
        ENV_COGNITO_SCOPE,
    }
)
COGNITO_VARIABLES: Final = (ENV_COGNITO_DOMAIN, ENV_COGNITO_CLIENT_ID, ENV_COGNITO_SCOPE)
POWERTOOLS_VARIABLES: Final = frozenset({ENV_SERVICE_NAME, ENV_METRICS_NAMESPACE, ENV_LOG_LEVEL})

_N = TypeVar("_N", int, float)


def _plain(number: float) -> str:
    return str(number) if isinstance(number, int) else f"{number:g}"


@dataclass(frozen=True)
class Bounded(Generic[_N]):
    """A numeric setting: its default and its inclusive bounds."""

    default: _N
    low: _N
    high: _N

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds (never NaN or infinite: the bounds are finite)."""
        # Comparing, not math.isfinite: an integer too large for a float must be rejected, not raise.
        return self.low <= value <= self.high

    @property
    def range(self) -> str:
        """The bounds as people write them, e.g. ``1..1000000`` or ``0..2``."""
        return f"{_plain(self.low)}..{_plain(self.high)}"


# --- Settings: defaults and rules -------------------------------------------------------------------------
# SageMaker's naming rule for endpoints.
ENDPOINT_NAME_PATTERN: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# SageMaker's naming rule for inference components (CreateInferenceComponent, botocore's model).
INFERENCE_COMPONENT_NAME_PATTERN: Final = re.compile(r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?")
INFERENCE_COMPONENT_NAME_MAX_CHARS: Final = 63
REGION_PATTERN: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
RESPONSE_FORMAT_DEFAULT: Final = "auto"
RESPONSE_FORMAT_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_SYSTEM_PROMPT: Final = (
    "You are a helpful assistant. Answer concisely. Use the available tools when they help, "
    "and say so when you do not know something."
)
# `max_tokens` is both the default and the cap of a request's `max_tokens`.
MAX_TOKENS: Final = Bounded(default=1024, low=1, high=1_000_000)
TEMPERATURE: Final = Bounded(default=0.2, low=0.0, high=2.0)
MAX_PROMPT_CHARS: Final = Bounded(default=16_000, low=1, high=10_000_000)
# The tools lambda/agent_api/tools.py implements; `get_weather` is an opt-in demo tool for the local stack.
TOOL_NAMES: Final = ("current_time", "calculator", "get_weather")
DEFAULT_TOOLS: Final = ("current_time", "calculator")
# S3's general-purpose bucket naming rule, without dots (they break virtual-hosted TLS).
BUCKET_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
SERVICE_NAME: Final = "agent-api"
METRICS_NAMESPACE: Final = "SageMakerStrandsAgent"
# The app's count of its `503 model_warming` refusals: expected answers while a model scaled to zero wakes,
# which the stack's API 5XX alarm leaves out (stacks/monitoring.py). Powertools dimensions it by `service`.
MODEL_WARMING_REFUSALS_METRIC: Final = "ModelWarmingRefusals"
# CloudWatch namespaces: 1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with ':' (botocore's
# PutMetricData model) nor with 'AWS/', which is reserved for AWS services (CloudWatch concepts page).
METRICS_NAMESPACE_PATTERN: Final = re.compile(r"(?!AWS/)[A-Za-z0-9._/#-][A-Za-z0-9._/#: -]{0,254}")
METRICS_NAMESPACE_RULE: Final = (
    "a CloudWatch namespace: 1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with ':' or 'AWS/'"
)
# The model's reasoning streams as `reasoning` events unless this is "false".
BOOLEANS: Final = ("true", "false")
STREAM_REASONING_DEFAULT: Final = True
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
# OAuth scopes separated by single spaces (botocore's cognito-idp ScopeType: 1-256 printable ASCII, no space).
COGNITO_SCOPE_PATTERN: Final = re.compile(
    r"[\x21\x23-\x5B\x5D-\x7E]{1,256}( [\x21\x23-\x5B\x5D-\x7E]{1,256})*"
)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LEVEL_DEFAULT: Final = "INFO"


def split_tools(value: str) -> tuple[str, ...]:
    """Return the tool names of a comma-separated list, trimmed, without empty entries or repeats."""
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def unknown_tools(value: str) -> list[str]:
    """Return the names in a comma-separated tool list that are not tools of the agent."""
    return [name for name in split_tools(value) if name not in TOOL_NAMES]


# --- The HTTP API -----------------------------------------------------------------------------------------
CHAT_PATH: Final = "/chat"
HEALTH_PATH: Final = "/health"
# The OpenAI-compatible routes (docs/agent-api.md, "OpenAI-compatible API"): clients take `/v1` as base URL.
OPENAI_PREFIX: Final = "/v1"
OPENAI_CHAT_COMPLETIONS_PATH: Final = f"{OPENAI_PREFIX}/chat/completions"
OPENAI_MODELS_PATH: Final = f"{OPENAI_PREFIX}/models"
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
# kept apart so that API Gateway's request model can state the same rule (stacks/agent_api/construct.py).
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
