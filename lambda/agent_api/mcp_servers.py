"""The MCP servers an environment gives its agent (`agent.mcp_servers` in cdk.json, `AGENT_MCP_SERVERS`).

A JSON list of objects, checked by :func:`problems` (synth and the app run this very check, through the
settings table's JSON kind) and read into :class:`McpServer` values by :func:`parse`:

    {"name": "docs", "url": "https://docs.example.com/mcp", "tools": ["search"], "prefix": "docs",
     "timeout_seconds": 20, "auth": {"type": "bearer", "secret": "mcp/docs-token"}}

``auth`` is ``none`` (the default), ``bearer`` (a token kept in a Secrets Manager secret), ``oauth`` (OAuth
client credentials: token URL, client id, the client secret in Secrets Manager, scopes) or ``sigv4`` (the
function's own role, for an Amazon Bedrock AgentCore Gateway). A URL is https; plain http only to a loopback
host, which only the local stack can reach (synth refuses it: stacks/agent_api/tool_sources.py).

Standard library only: the contract imports it, and the CDK app loads it with the contract.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from .setting_kinds import Problem

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
NAME_RULE: Final = "1-32 of A-Z a-z 0-9 _ -, starting with a letter or digit"
# The names a model may call: Strands refuses others (strands.tools.tools.validate_tool_use_name).
TOOL_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOOL_NAME_RULE: Final = "1-64 of A-Z a-z 0-9 _ - (the names a model may call)"
# Secrets Manager's secret names (botocore's NameType: 1-512 of these characters).
SECRET_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
# A KMS key's ARN (not an alias: IAM grants on keys name key ARNs).
KMS_KEY_ARN_PATTERN: Final = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:key/[A-Za-z0-9-]{1,128}"
)
# OAuth scope tokens (RFC 6749 section 3.3: printable ASCII but space, '"' and '\').
SCOPE_PATTERN: Final = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,256}")
CLIENT_ID_PATTERN: Final = re.compile(r"[\x21-\x7E]{1,256}")
REGION_PATTERN: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
TIMEOUT_SECONDS_MIN: Final = 1
TIMEOUT_SECONDS_MAX: Final = 300
DEFAULT_TIMEOUT_SECONDS: Final = 30
LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1")
# Amazon Bedrock AgentCore Gateway's MCP endpoint, https://<gateway id>.gateway.bedrock-agentcore.<region>.
# amazonaws.com/mcp ("Using a Gateway with MCP", AgentCore developer guide: https://docs.aws.amazon.com/
# bedrock-agentcore/latest/devguide/gateway-using-mcp.html). Gateway ids are botocore's bedrock-agentcore-
# control GatewayId, `([0-9a-z][-]?){1,100}-[0-9a-z]{10}` (tests/infra/test_infra_tool_sources.py checks it).
AGENTCORE_GATEWAY_HOST: Final = re.compile(
    r"(?P<gateway_id>[0-9a-z][0-9a-z-]{0,199}-[0-9a-z]{10})\.gateway\.bedrock-agentcore\."
    r"(?P<region>[a-z]{2}(-[a-z]+)+-\d+)\.amazonaws\.com"
)
# SigV4's signing name of AgentCore (botocore's bedrock-agentcore model: signingName; the service prefix of
# its IAM actions, such as bedrock-agentcore:InvokeGateway).
AGENTCORE_SIGNING_NAME: Final = "bedrock-agentcore"

AUTH_NONE: Final = "none"
AUTH_BEARER: Final = "bearer"
AUTH_OAUTH: Final = "oauth"
AUTH_SIGV4: Final = "sigv4"
SHAPE: Final = (
    'a list of MCP servers: {"name", "url", optional "tools" (allow-list), "prefix", "timeout_seconds", '
    '"auth"}, docs/tools.md'
)


@dataclass(frozen=True)
class NoAuth:
    """The server takes unauthenticated requests."""


@dataclass(frozen=True)
class BearerAuth:
    """``Authorization: Bearer <token>``, the token being the text of the Secrets Manager secret ``secret``.

    ``kms_key_arn`` is the customer managed key the secret is encrypted with, if any (the function may then
    decrypt with it, through Secrets Manager only).
    """

    secret: str
    kms_key_arn: str | None = None


@dataclass(frozen=True)
class OAuthClientCredentials:
    """An access token from ``token_url`` by the client credentials grant, sent as a bearer token.

    The client secret is the text of the Secrets Manager secret ``secret``; ``scopes`` are asked for (none:
    the authorization server's default).
    """

    token_url: str
    client_id: str
    secret: str
    scopes: tuple[str, ...] = ()
    kms_key_arn: str | None = None


@dataclass(frozen=True)
class SigV4Auth:
    """Requests signed with SigV4 by the function's own role, for ``service`` in ``region``."""

    region: str
    service: str = AGENTCORE_SIGNING_NAME


McpAuth = NoAuth | BearerAuth | OAuthClientCredentials | SigV4Auth


@dataclass(frozen=True)
class AgentCoreGateway:
    """The Amazon Bedrock AgentCore Gateway an MCP URL is the endpoint of."""

    gateway_id: str
    region: str


@dataclass(frozen=True)
class McpServer:
    """One MCP server the agent uses: how to reach it and which of its tools, under which names.

    ``tools`` is the allow-list of the server's own tool names (None: all of them); ``prefix`` names each
    tool ``<prefix>_<name>`` for the model; ``timeout_seconds`` bounds each tool call.
    """

    name: str
    url: str
    auth: McpAuth = NoAuth()
    tools: tuple[str, ...] | None = None
    prefix: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def agent_name(self, tool: str) -> str:
        """Return the name the model calls the server's tool ``tool`` by."""
        return tool if self.prefix is None else f"{self.prefix}_{tool}"

    @property
    def gateway(self) -> AgentCoreGateway | None:
        """The AgentCore Gateway whose endpoint ``url`` is, or None."""
        return agentcore_gateway(self.url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The Secrets Manager secrets its auth reads."""
        return (self.auth.secret,) if isinstance(self.auth, BearerAuth | OAuthClientCredentials) else ()


def agentcore_gateway(url: str) -> AgentCoreGateway | None:
    """Return the AgentCore Gateway ``url`` (https) is the endpoint of, or None."""
    parts = urlsplit(url)
    match = AGENTCORE_GATEWAY_HOST.fullmatch(parts.hostname or "")
    if parts.scheme != "https" or match is None:
        return None
    return AgentCoreGateway(match["gateway_id"], match["region"])


def is_loopback(url: str) -> bool:
    """Whether ``url`` is plain http to a loopback host (reachable from the local stack only)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def problems(value: Any) -> list[Problem]:
    """Return every problem of an ``agent.mcp_servers`` value, each at its path (``[1].auth.secret``)."""
    if not isinstance(value, list):
        return [Problem("", f"got {_short(value)}; expected {SHAPE}")]
    found: list[Problem] = []
    names: dict[str, int] = {}
    for index, server in enumerate(value):
        found.extend(_server_problems(f"[{index}]", server))
        name = server.get("name") if isinstance(server, dict) else None
        if isinstance(name, str):
            if name in names:
                found.append(
                    Problem(f"[{index}].name", f"{name!r} is also [{names[name]}]'s name; names are unique")
                )
            names.setdefault(name, index)
    return found


def parse(value: Any) -> tuple[McpServer, ...]:
    """Return the servers of a value :func:`problems` accepts."""
    return tuple(_server(item) for item in value)


_SERVER_KEYS: Final = ("name", "url", "tools", "prefix", "timeout_seconds", "auth")
_AUTH_KEYS: Final = {
    AUTH_NONE: ("type",),
    AUTH_BEARER: ("type", "secret", "kms_key_arn"),
    AUTH_OAUTH: ("type", "token_url", "client_id", "secret", "scopes", "kms_key_arn"),
    AUTH_SIGV4: ("type", "region"),
}
_REQUIRED_AUTH_KEYS: Final = {
    AUTH_NONE: (),
    AUTH_BEARER: ("secret",),
    AUTH_OAUTH: ("token_url", "client_id", "secret"),
    AUTH_SIGV4: (),
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _keys_problems(
    path: str, item: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> list[Problem]:
    unknown = [key for key in item if key not in allowed]
    found = [Problem(f"{path}.{key}", f"unknown key; allowed keys: {', '.join(allowed)}") for key in unknown]
    found += [Problem(f"{path}.{key}", "required") for key in required if key not in item]
    return found


def _string_problem(path: str, value: Any, pattern: re.Pattern[str], rule: str) -> list[Problem]:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        return [Problem(path, f"got {_short(value)}; allowed: {rule}")]
    return []


def _url_problem(path: str, value: Any) -> list[Problem]:
    """Check for an https URL with a host (no credentials, no fragment), or plain http to a loopback host."""
    if not isinstance(value, str) or any(character.isspace() for character in value):
        return [Problem(path, f"got {_short(value)}; expected an https:// URL")]
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number in 0..65535)
    except ValueError:
        return [Problem(path, f"got {value!r}; its port is not a number from 0 to 65535")]
    if parts.username is not None or parts.password is not None:
        return [Problem(path, "must not hold credentials (they would show in logs): use its auth")]
    if parts.fragment:
        return [Problem(path, f"got {value!r}; a URL without a fragment ('#...')")]
    if parts.scheme == "https" and parts.hostname:
        return []
    if is_loopback(value):
        return []
    return [
        Problem(
            path, f"got {value!r}; expected an https:// URL (http:// only to 127.0.0.1, localhost or [::1])"
        )
    ]


def _tools_problems(path: str, tools: Any, prefix: Any) -> list[Problem]:
    if not isinstance(tools, list) or not tools:
        return [
            Problem(
                path, f"got {_short(tools)}; expected a non-empty list of tool names (leave it out for all)"
            )
        ]
    found: list[Problem] = []
    for index, tool in enumerate(tools):
        found += _string_problem(f"{path}[{index}]", tool, TOOL_NAME_PATTERN, TOOL_NAME_RULE)
        if tools.index(tool) != index:
            found.append(Problem(f"{path}[{index}]", f"{tool!r} is listed twice"))
        elif isinstance(prefix, str) and isinstance(tool, str) and len(prefix) + 1 + len(tool) > 64:
            found.append(Problem(f"{path}[{index}]", f"'{prefix}_{tool}' is longer than 64 characters"))
    return found


def _timeout_problem(path: str, value: Any) -> list[Problem]:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not TIMEOUT_SECONDS_MIN <= value <= TIMEOUT_SECONDS_MAX:
        return [
            Problem(
                path, f"got {_short(value)}; allowed: {TIMEOUT_SECONDS_MIN}..{TIMEOUT_SECONDS_MAX} (seconds)"
            )
        ]
    return []


def _server_problems(path: str, server: Any) -> list[Problem]:
    if not isinstance(server, dict):
        return [Problem(path, f"got {_short(server)}; expected an object with a name and a url")]
    found = _keys_problems(path, server, _SERVER_KEYS, ("name", "url"))
    if "name" in server:
        found += _string_problem(f"{path}.name", server["name"], NAME_PATTERN, NAME_RULE)
    if "url" in server:
        found += _url_problem(f"{path}.url", server["url"])
    if "prefix" in server:
        found += _string_problem(f"{path}.prefix", server["prefix"], NAME_PATTERN, NAME_RULE)
    if "tools" in server:
        found += _tools_problems(f"{path}.tools", server["tools"], server.get("prefix"))
    if "timeout_seconds" in server:
        found += _timeout_problem(f"{path}.timeout_seconds", server["timeout_seconds"])
    if "auth" in server:
        found += _auth_problems(f"{path}.auth", server["auth"], server.get("url"))
    return found


def _auth_problems(path: str, auth: Any, url: Any) -> list[Problem]:
    kinds = ", ".join(_AUTH_KEYS)
    if not isinstance(auth, dict) or auth.get("type") not in _AUTH_KEYS:
        return [Problem(path, f'got {_short(auth)}; expected {{"type": ...}} with a type of {kinds}')]
    kind = auth["type"]
    found = _keys_problems(path, auth, _AUTH_KEYS[kind], _REQUIRED_AUTH_KEYS[kind])
    if "secret" in auth:
        found += _string_problem(
            f"{path}.secret", auth["secret"], SECRET_NAME_PATTERN, "a Secrets Manager secret name"
        )
    if "kms_key_arn" in auth:
        found += _string_problem(
            f"{path}.kms_key_arn",
            auth["kms_key_arn"],
            KMS_KEY_ARN_PATTERN,
            "a KMS key ARN (arn:aws:kms:...:key/...)",
        )
    if "token_url" in auth:
        found += _url_problem(f"{path}.token_url", auth["token_url"])
    if "client_id" in auth:
        found += _string_problem(
            f"{path}.client_id",
            auth["client_id"],
            CLIENT_ID_PATTERN,
            "1-256 printable ASCII characters, no space",
        )
    if "scopes" in auth:
        scopes = auth["scopes"]
        if not isinstance(scopes, list):
            found.append(Problem(f"{path}.scopes", f"got {_short(scopes)}; expected a list of OAuth scopes"))
        else:
            for index, scope in enumerate(scopes):
                found += _string_problem(
                    f"{path}.scopes[{index}]", scope, SCOPE_PATTERN, "an OAuth scope (no space)"
                )
    if kind == AUTH_SIGV4:
        found += _sigv4_problems(path, auth, url)
    return found


def _sigv4_problems(path: str, auth: dict[str, Any], url: Any) -> list[Problem]:
    """SigV4 is for AgentCore Gateway, whose region its URL names; a loopback URL (local stack) names one."""
    region = auth.get("region")
    if region is not None and not (isinstance(region, str) and REGION_PATTERN.fullmatch(region)):
        return [Problem(f"{path}.region", f"got {_short(region)}; allowed: an AWS region name")]
    if not isinstance(url, str):
        return []
    gateway = agentcore_gateway(url)
    if gateway is not None:
        if region is not None and region != gateway.region:
            return [Problem(f"{path}.region", f"got {region!r}; the gateway's URL names {gateway.region!r}")]
        return []
    if is_loopback(url):
        return [] if region is not None else [Problem(f"{path}.region", "required with a loopback URL")]
    return [
        Problem(
            path,
            "sigv4 signs for Amazon Bedrock AgentCore Gateway: the url must be a gateway's, "
            "https://<gateway id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp",
        )
    ]


def _server(item: dict[str, Any]) -> McpServer:
    tools = item.get("tools")
    return McpServer(
        name=item["name"],
        url=item["url"],
        auth=_auth(item.get("auth", {"type": AUTH_NONE}), item["url"]),
        tools=None if tools is None else tuple(tools),
        prefix=item.get("prefix"),
        timeout_seconds=float(item.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
    )


def _auth(auth: dict[str, Any], url: str) -> McpAuth:
    readers: dict[str, Callable[[], McpAuth]] = {
        AUTH_NONE: NoAuth,
        AUTH_BEARER: lambda: BearerAuth(auth["secret"], auth.get("kms_key_arn")),
        AUTH_OAUTH: lambda: OAuthClientCredentials(
            auth["token_url"],
            auth["client_id"],
            auth["secret"],
            tuple(auth.get("scopes", ())),
            auth.get("kms_key_arn"),
        ),
        AUTH_SIGV4: lambda: SigV4Auth(_sigv4_region(auth, url)),
    }
    return readers[auth["type"]]()


def _sigv4_region(auth: dict[str, Any], url: str) -> str:
    gateway = agentcore_gateway(url)
    return str(auth["region"]) if gateway is None else gateway.region
