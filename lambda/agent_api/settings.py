"""Agent API configuration: the `AGENT_*` and Powertools environment variables, read at cold start.

The names, defaults and rules are the deployment contract's (`agent_api.contract`, docs/agent-api.md). Every
problem is reported at once, each naming its variable, so a misconfigured deployment fails at start with one
readable message instead of on the first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent_api import contract

_NOT_BLANK = re.compile(r"\s*\S.*", re.DOTALL)


class SettingsError(ValueError):
    """The environment holds an unknown `AGENT_*` variable or an invalid value; the message names each one."""


@dataclass(frozen=True)
class CognitoSettings:
    """How a browser signs in to a `api.auth: cognito` deployment (the chat page reads these).

    `domain` is the managed-login origin (its `/oauth2/authorize` and `/oauth2/token` endpoints), `client_id`
    the public app client for the authorization code flow with PKCE, `scope` the space-separated scopes to
    request: the API's own scope is what API Gateway's authorizer checks in the access token.
    """

    domain: str
    client_id: str
    scope: str


@dataclass(frozen=True)
class Settings:
    """Validated agent API configuration."""

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
    stream_reasoning: bool = contract.STREAM_REASONING_DEFAULT
    # How callers authenticate (contract.AUTH_MODES): what the chat page is told; under iam and cognito a
    # session needs API Gateway's request context (agent_api.session_owner).
    auth: str = contract.AUTH_NONE
    # Set exactly when `auth` is cognito.
    cognito: CognitoSettings | None = None
    # The endpoint's inference component to invoke; None invokes the endpoint's own model.
    inference_component_name: str | None = None

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
        reader = _Reader(env)
        known = sorted(contract.AGENT_VARIABLES)
        for name in sorted(n for n in env if n.startswith("AGENT_") and n not in contract.AGENT_VARIABLES):
            reader.errors.append(f"{name}: unknown variable (known: {', '.join(known)})")

        endpoint_name = reader.matching(
            contract.ENV_ENDPOINT_NAME, contract.ENDPOINT_NAME_PATTERN, "a SageMaker endpoint name"
        )
        component = env.get(contract.ENV_INFERENCE_COMPONENT_NAME) or None
        if component is not None and not (
            len(component) <= contract.INFERENCE_COMPONENT_NAME_MAX_CHARS
            and contract.INFERENCE_COMPONENT_NAME_PATTERN.fullmatch(component)
        ):
            reader.errors.append(
                f"{contract.ENV_INFERENCE_COMPONENT_NAME}: {component!r} is not an inference component name"
            )
        region = env.get(contract.ENV_REGION) or env.get("AWS_REGION") or None
        if region is not None and not contract.REGION_PATTERN.fullmatch(region):
            name = contract.ENV_REGION if env.get(contract.ENV_REGION) else "AWS_REGION"
            reader.errors.append(f"{name}: {region!r} is not an AWS region name (e.g. us-east-1)")
        response_format = reader.matching(
            contract.ENV_RESPONSE_FORMAT,
            contract.RESPONSE_FORMAT_PATTERN,
            "a response format name",
            default=contract.RESPONSE_FORMAT_DEFAULT,
        )
        system_prompt = env.get(contract.ENV_SYSTEM_PROMPT, contract.DEFAULT_SYSTEM_PROMPT)
        if not system_prompt.strip():
            reader.errors.append(
                f"{contract.ENV_SYSTEM_PROMPT}: must not be blank (unset it for the built-in prompt)"
            )
        bucket = env.get(contract.ENV_SESSIONS_BUCKET) or None
        if bucket is not None and not contract.BUCKET_PATTERN.fullmatch(bucket):
            reader.errors.append(f"{contract.ENV_SESSIONS_BUCKET}: {bucket!r} is not a valid S3 bucket name")
        auth = reader.one_of(contract.ENV_AUTH, contract.AUTH_MODES, contract.AUTH_NONE)
        cognito = reader.cognito(required=auth == contract.AUTH_COGNITO)
        settings = cls(
            endpoint_name=endpoint_name,
            region=region,
            response_format=response_format,
            system_prompt=system_prompt,
            max_tokens=reader.integer(contract.ENV_MAX_TOKENS, contract.MAX_TOKENS),
            temperature=reader.number(contract.ENV_TEMPERATURE, contract.TEMPERATURE),
            tools=reader.tools(contract.ENV_TOOLS),
            sessions_bucket=bucket,
            max_prompt_chars=reader.integer(contract.ENV_MAX_PROMPT_CHARS, contract.MAX_PROMPT_CHARS),
            service_name=reader.matching(
                contract.ENV_SERVICE_NAME, _NOT_BLANK, "a service name", contract.SERVICE_NAME
            ),
            metrics_namespace=reader.matching(
                contract.ENV_METRICS_NAMESPACE,
                contract.METRICS_NAMESPACE_PATTERN,
                contract.METRICS_NAMESPACE_RULE,
                contract.METRICS_NAMESPACE,
            ),
            log_level=reader.one_of(contract.ENV_LOG_LEVEL, contract.LOG_LEVELS, contract.LOG_LEVEL_DEFAULT),
            stream_reasoning=reader.boolean(contract.ENV_STREAM_REASONING, contract.STREAM_REASONING_DEFAULT),
            auth=auth,
            cognito=cognito,
            inference_component_name=component,
        )
        if reader.errors:
            raise SettingsError("invalid agent API configuration:\n  " + "\n  ".join(reader.errors))
        return settings


class _Reader:
    """Reads typed variables, collecting one error message per bad variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def matching(self, name: str, pattern: re.Pattern[str], what: str, default: str | None = None) -> str:
        value = self.env.get(name, default)
        if value is None:
            self.errors.append(f"{name}: required ({what})")
            return ""
        if not pattern.fullmatch(value):
            self.errors.append(f"{name}: {value!r} is not {what}")
        return value

    def one_of(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.env.get(name, default)
        if value not in choices:
            self.errors.append(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        true, false = contract.BOOLEANS
        return self.one_of(name, contract.BOOLEANS, true if default else false) == true

    def integer(self, name: str, bounds: contract.Bounded[int]) -> int:
        raw = self.env.get(name)
        if raw is None:
            return bounds.default
        try:
            value = int(raw.strip())
        except ValueError:
            self.errors.append(f"{name}: {raw!r} is not an integer")
            return bounds.default
        if not bounds.allows(value):
            self.errors.append(f"{name}: {value} is outside {bounds.range}")
        return value

    def number(self, name: str, bounds: contract.Bounded[float]) -> float:
        raw = self.env.get(name)
        if raw is None:
            return bounds.default
        try:
            value = float(raw.strip())
        except ValueError:
            self.errors.append(f"{name}: {raw!r} is not a number")
            return bounds.default
        if not bounds.allows(value):
            self.errors.append(f"{name}: {raw.strip()} is outside {bounds.range}")
        return value

    def cognito(self, *, required: bool) -> CognitoSettings | None:
        """All three Cognito variables when ``required`` (`AGENT_AUTH` is cognito), else none of them.

        Empty counts as unset: the stack sets them empty outside Cognito environments.
        """
        given = {name: self.env.get(name) or None for name in contract.COGNITO_VARIABLES}
        if not required:
            stray = [name for name, value in given.items() if value is not None]
            if stray:
                self.errors.append(
                    f"{', '.join(stray)}: only with {contract.ENV_AUTH}={contract.AUTH_COGNITO} "
                    "(the chat page signs in with Cognito only there)"
                )
            return None
        missing = [name for name, value in given.items() if value is None]
        if missing:
            self.errors.append(
                f"{', '.join(missing)}: required with {contract.ENV_AUTH}={contract.AUTH_COGNITO}"
            )
            return None
        checks = {
            contract.ENV_COGNITO_DOMAIN: (contract.COGNITO_DOMAIN_PATTERN, "an https:// origin (no path)"),
            contract.ENV_COGNITO_CLIENT_ID: (contract.COGNITO_CLIENT_ID_PATTERN, "a Cognito app client id"),
            contract.ENV_COGNITO_SCOPE: (
                contract.COGNITO_SCOPE_PATTERN,
                "OAuth scopes separated by single spaces",
            ),
        }
        values = {name: self.matching(name, pattern, what) for name, (pattern, what) in checks.items()}
        return CognitoSettings(
            domain=values[contract.ENV_COGNITO_DOMAIN],
            client_id=values[contract.ENV_COGNITO_CLIENT_ID],
            scope=values[contract.ENV_COGNITO_SCOPE],
        )

    def tools(self, name: str) -> tuple[str, ...]:
        raw = self.env.get(name)
        if raw is None:
            return contract.DEFAULT_TOOLS
        unknown = contract.unknown_tools(raw)
        if unknown:
            listed = ", ".join(map(repr, unknown))
            self.errors.append(
                f"{name}: unknown tool(s) {listed} (available: {', '.join(contract.TOOL_NAMES)})"
            )
        return tuple(tool for tool in contract.split_tools(raw) if tool in contract.TOOL_NAMES)
