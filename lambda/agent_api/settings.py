"""Agent API configuration: the variables of the settings table (`contract.SETTINGS`), read at cold start.

Every variable, default and rule is the table's (docs/agent-api.md, "Configuration"); this module adds the
rules that involve several variables (the Cognito sign-in follows `AGENT_AUTH`; the fallback model's Region
and `AGENT_FALLBACK_ON_THROTTLE` follow `AGENT_FALLBACK`). Every problem is reported at once, each naming its
variable, so a misconfigured deployment fails at start with one readable message instead of on the first
request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_api import contract
from agent_api.fallback_settings import BedrockFallback, Fallback, region_problem
from agent_api.mcp_servers import McpServer
from agent_api.setting_kinds import read_settings


class SettingsError(ValueError):
    """The environment holds an unknown `AGENT_*` variable or an invalid value; the message names each one."""


@dataclass(frozen=True)
class CognitoSettings:
    """How callers sign in to a `api.auth: cognito` deployment (the chat page reads the first three).

    `domain` is the managed-login origin (its `/oauth2/authorize` and `/oauth2/token` endpoints), `client_id`
    the public app client for the authorization code flow with PKCE, `scope` the space-separated scopes to
    request: the API's own scope is what API Gateway's authorizer checks in the access token. `issuer` is the
    user pool's OpenID Connect issuer, the authorization server MCP clients discover.
    """

    domain: str
    client_id: str
    scope: str
    issuer: str


@dataclass(frozen=True)
class Settings:
    """Validated agent API configuration: one field per setting of the table (`Setting.name`).

    The three `AGENT_COGNITO_*` settings are the one field `cognito`.
    """

    endpoint_name: str
    region: str | None
    response_format: str
    system_prompt: str
    max_tokens: int
    temperature: float
    tools: tuple[str, ...]
    sessions_bucket: str | None
    max_prompt_chars: int
    service_name: str
    metrics_namespace: str
    # Applied by Powertools' Logger, which reads the same variable; checked here so a typo fails at start.
    log_level: str
    stream_reasoning: bool = contract.AGENT_STREAM_REASONING.default
    # How callers authenticate (contract.AUTH_MODES): what the chat page is told; under iam and cognito a
    # session needs API Gateway's request context (agent_api.session_owner).
    auth: str = contract.AUTH_NONE
    # Set exactly when `auth` is cognito.
    cognito: CognitoSettings | None = None
    # The endpoint's inference component to invoke; None invokes the endpoint's own model.
    inference_component_name: str | None = None
    # The MCP servers whose tools the agent uses besides `tools` (agent_api.tool_sources).
    mcp_servers: tuple[McpServer, ...] = ()
    # The tool-call syntax the provider reads from an answer's text (contract.TEXT_TOOL_CALL_SYNTAXES), or
    # "false" for none.
    text_tool_calls: str = contract.AGENT_TEXT_TOOL_CALLS.default
    # Where each turn's trace goes (contract.TRACE_MODES), and whether spans keep prompts and answers.
    traces: str = contract.AGENT_TRACES.default
    capture_content: bool = contract.AGENT_CAPTURE_CONTENT.default
    # `otlp`: the endpoint's base URL, and the secret holding the headers of its requests.
    otlp_endpoint: str | None = None
    otlp_headers_secret: str | None = None
    # The model answering while the own one has no copy in service (agent_api.fallback_settings); None: none.
    fallback: Fallback | None = None
    # Whether the fallback also answers a turn the own model throttled before producing anything.
    fallback_on_throttle: bool = contract.AGENT_FALLBACK_ON_THROTTLE.default

    @property
    def sessions_enabled(self) -> bool:
        """Whether a sessions bucket is configured (otherwise requests with a `session_id` are rejected)."""
        return self.sessions_bucket is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings from `environ` (default: the process environment).

        Raises:
            SettingsError: listing every unknown variable and invalid value, each by name.

        """
        env = os.environ if environ is None else environ
        values, errors = read_settings(contract.SETTINGS, env, contract.VARIABLE_PREFIX)
        # A tool file that cannot be read for its tools is the tools' problem, whichever are enabled.
        errors += [
            f"{contract.AGENT_TOOLS.variable}: {problem}" for problem in contract.TOOL_CATALOG.problems
        ]
        cognito = _cognito(values, errors)
        _check_traces(values, env, errors)
        _check_fallback(values, errors)
        if errors:
            raise SettingsError("invalid agent API configuration:\n  " + "\n  ".join(errors))
        sign_in = {setting.name for setting in contract.COGNITO_SETTINGS}
        return cls(cognito=cognito, **{name: value for name, value in values.items() if name not in sign_in})


def _check_fallback(values: Mapping[str, Any], errors: list[str]) -> None:
    """Check the fallback's rules that involve other variables: its Region, `AGENT_FALLBACK_ON_THROTTLE`.

    The same rules as synth's (stacks/config/rules.py), so that both accept the same settings.
    """
    # A variable that was invalid has no value here, and is already reported.
    fallback = values.get(contract.AGENT_FALLBACK.name)
    configured = contract.AGENT_FALLBACK.name in values
    if values.get(contract.AGENT_FALLBACK_ON_THROTTLE.name) and configured and fallback is None:
        errors.append(
            f"{contract.AGENT_FALLBACK_ON_THROTTLE.variable}: only with {contract.AGENT_FALLBACK.variable}"
        )
    if isinstance(fallback, BedrockFallback) and contract.AGENT_REGION.name in values:
        problem = region_problem(fallback.model, values[contract.AGENT_REGION.name])
        if problem is not None:
            errors.append(f"{contract.AGENT_FALLBACK.variable}: {problem}")


def _cognito(values: Mapping[str, Any], errors: list[str]) -> CognitoSettings | None:
    """All three Cognito settings when `AGENT_AUTH` is cognito, else none of them (empty counts as unset).

    A setting whose variable was invalid is already reported, and so is not also called missing.
    """
    if contract.AGENT_AUTH.name not in values:
        return None
    given = {s: values[s.name] for s in contract.COGNITO_SETTINGS if s.name in values}
    auth = contract.AGENT_AUTH.variable
    if values[contract.AGENT_AUTH.name] != contract.AUTH_COGNITO:
        stray = [s.variable for s, value in given.items() if value is not None]
        if stray:
            errors.append(
                f"{', '.join(stray)}: only with {auth}={contract.AUTH_COGNITO} "
                "(the chat page signs in with Cognito only there)"
            )
        return None
    missing = [s.variable for s, value in given.items() if value is None]
    if missing:
        errors.append(f"{', '.join(missing)}: required with {auth}={contract.AUTH_COGNITO}")
    if missing or len(given) < len(contract.COGNITO_SETTINGS):
        return None
    return CognitoSettings(
        domain=given[contract.AGENT_COGNITO_DOMAIN],
        client_id=given[contract.AGENT_COGNITO_CLIENT_ID],
        scope=given[contract.AGENT_COGNITO_SCOPE],
        issuer=given[contract.AGENT_COGNITO_ISSUER],
    )


def _check_traces(values: Mapping[str, Any], env: Mapping[str, str], errors: list[str]) -> None:
    """Apply the contract's rule on the trace settings, once each of them was read."""
    if contract.AGENT_TRACES.name not in values or contract.AGENT_OTLP_ENDPOINT.name not in values:
        return
    endpoint_given = bool(
        values[contract.AGENT_OTLP_ENDPOINT.name] or env.get(contract.OTEL_TRACES_ENDPOINT_VARIABLE)
    )
    where = (
        f"{contract.AGENT_OTLP_ENDPOINT.variable} or {contract.OTEL_ENDPOINT_VARIABLE} (the base URL), or "
        f"{contract.OTEL_TRACES_ENDPOINT_VARIABLE} (the full URL of traces)"
    )
    traces = contract.AGENT_TRACES.variable
    errors.extend(
        f"{traces}: {problem}"
        for problem in contract.trace_problems(values[contract.AGENT_TRACES.name], endpoint_given, where)
    )
