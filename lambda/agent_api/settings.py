"""Agent API configuration: the `AGENT_*` environment variables (docs/agent-api.md), read at cold start.

Every problem is reported at once, each naming its variable, so a misconfigured deployment fails at start
with one readable message instead of on the first request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent_api.tools import DEFAULT_TOOL_NAMES, TOOL_NAMES

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer concisely. Use the available tools when they help, "
    "and say so when you do not know something."
)
DEFAULT_SERVICE_NAME = "agent-api"
DEFAULT_METRICS_NAMESPACE = "SageMakerStrandsAgent"

# Generation parameter bounds accepted from configuration and from requests.
MAX_TOKENS_LIMIT = 1_000_000
TEMPERATURE_MIN = 0.0
TEMPERATURE_MAX = 2.0

KNOWN_VARIABLES = frozenset(
    {
        "AGENT_ENDPOINT_NAME",
        "AGENT_REGION",
        "AGENT_RESPONSE_FORMAT",
        "AGENT_SYSTEM_PROMPT",
        "AGENT_MAX_TOKENS",
        "AGENT_TEMPERATURE",
        "AGENT_TOOLS",
        "AGENT_SESSIONS_BUCKET",
        "AGENT_MAX_PROMPT_CHARS",
    }
)

# SageMaker's own naming rule for endpoints.
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_FORMAT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# S3's general-purpose bucket naming rule (no dots: they break virtual-hosted TLS).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class SettingsError(ValueError):
    """The environment holds an unknown `AGENT_*` variable or an invalid value; the message names each one."""


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
        for name in sorted(n for n in env if n.startswith("AGENT_") and n not in KNOWN_VARIABLES):
            reader.errors.append(f"{name}: unknown variable (known: {', '.join(sorted(KNOWN_VARIABLES))})")

        endpoint_name = reader.matching("AGENT_ENDPOINT_NAME", _ENDPOINT_NAME, "a SageMaker endpoint name")
        region = reader.optional("AGENT_REGION") or env.get("AWS_REGION") or None
        if region is not None and not _REGION.match(region):
            name = "AGENT_REGION" if env.get("AGENT_REGION") else "AWS_REGION"
            reader.errors.append(f"{name}: {region!r} is not an AWS region name (e.g. us-east-1)")
        response_format = reader.matching(
            "AGENT_RESPONSE_FORMAT", _FORMAT_NAME, "a response format name", default="auto"
        )
        system_prompt = reader.optional("AGENT_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT)
        if system_prompt is not None and not system_prompt.strip():
            reader.errors.append("AGENT_SYSTEM_PROMPT: must not be blank (unset it for the built-in prompt)")
        max_tokens = reader.integer("AGENT_MAX_TOKENS", 1024, 1, MAX_TOKENS_LIMIT)
        temperature = reader.number("AGENT_TEMPERATURE", 0.2, TEMPERATURE_MIN, TEMPERATURE_MAX)
        tools = reader.tools("AGENT_TOOLS")
        bucket = reader.optional("AGENT_SESSIONS_BUCKET") or None
        if bucket is not None and not _BUCKET.match(bucket):
            reader.errors.append(f"AGENT_SESSIONS_BUCKET: {bucket!r} is not a valid S3 bucket name")
        max_prompt_chars = reader.integer("AGENT_MAX_PROMPT_CHARS", 16000, 1, 10_000_000)

        if reader.errors:
            raise SettingsError("invalid agent API configuration:\n  " + "\n  ".join(reader.errors))
        return cls(
            endpoint_name=endpoint_name or "",
            region=region,
            response_format=response_format or "auto",
            system_prompt=system_prompt or DEFAULT_SYSTEM_PROMPT,
            max_tokens=max_tokens,
            temperature=temperature,
            tools=tools,
            sessions_bucket=bucket,
            max_prompt_chars=max_prompt_chars,
            service_name=env.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME,
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
        )


class _Reader:
    """Reads typed variables, collecting one error message per bad variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def optional(self, name: str, default: str | None = None) -> str | None:
        return self.env.get(name, default)

    def matching(
        self, name: str, pattern: re.Pattern[str], what: str, default: str | None = None
    ) -> str | None:
        value = self.env.get(name, default)
        if value is None:
            self.errors.append(f"{name}: required ({what})")
        elif not pattern.match(value):
            self.errors.append(f"{name}: {value!r} is not {what}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.env.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            self.errors.append(f"{name}: {raw!r} is not an integer")
            return default
        if not low <= value <= high:
            self.errors.append(f"{name}: {value} is outside {low}..{high}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.env.get(name)
        if raw is None:
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            self.errors.append(f"{name}: {raw!r} is not a number")
            return default
        if not math.isfinite(value) or not low <= value <= high:
            self.errors.append(f"{name}: {raw.strip()} is outside {low:g}..{high:g}")
        return value

    def tools(self, name: str) -> tuple[str, ...]:
        raw = self.env.get(name)
        if raw is None:
            return DEFAULT_TOOL_NAMES
        names = [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [tool for tool in names if tool not in TOOL_NAMES]
        if unknown:
            listed = ", ".join(map(repr, unknown))
            self.errors.append(f"{name}: unknown tool(s) {listed} (available: {', '.join(TOOL_NAMES)})")
        return tuple(dict.fromkeys(tool for tool in names if tool in TOOL_NAMES))
