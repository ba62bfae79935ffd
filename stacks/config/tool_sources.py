"""Synth's checks of the agent's tools: what cdk.json may name, and what only the local stack can use.

- `agent.tools` names tools whose files synth could read (lambda/agent_api/tool_catalog.py names problems);
- a deployed `agent.mcp_servers` URL (and OAuth token URL) is https: a loopback URL reaches only the local
  stack; a server's call timeout is shorter than the function's, which ends the whole turn;
- the function's environment fits Lambda's 4 KB for all its variables together ("Lambda quotas",
  https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), which a long system prompt or many
  MCP servers could pass.
"""

from __future__ import annotations

from typing import Final

from stacks.agent_api.lambda_contract import contract, mcp_servers
from stacks.config.environment import EnvironmentConfig
from stacks.config.schema import ConfigError, table_values

MAX_ENVIRONMENT_BYTES: Final = 4 * 1024
# The most the variables the stack sets itself (endpoint and component names, region, bucket, sign-in, Web
# Adapter) take beside their names: synth checks the cdk.json values against what is left.
STACK_SET_VALUES_BYTES: Final = 768


def check_tool_catalog(environment: str) -> None:
    """Refuse a Python tool file synth cannot read the tools of (it names the file and line)."""
    for problem in contract.TOOL_CATALOG.problems:
        raise ConfigError(environment, "agent.tools", problem)


def check_tool_sources(config: EnvironmentConfig) -> None:
    """Refuse what only the local stack can use (loopback URLs) and an environment too large for Lambda."""
    servers = mcp_servers.parse(config.agent.mcp_servers)
    function_timeout = config.lambda_.timeout_seconds
    for index, server in enumerate(servers):
        if server.timeout_seconds >= function_timeout:
            raise ConfigError(
                config.name,
                f"agent.mcp_servers[{index}].timeout_seconds",
                f"got {server.timeout_seconds:g}; allowed: less than lambda.timeout_seconds "
                f"({function_timeout}), which ends the whole turn",
            )
        urls = [("url", server.url)]
        if isinstance(server.auth, mcp_servers.OAuthClientCredentials):
            urls.append(("auth.token_url", server.auth.token_url))
        for key, url in urls:
            if mcp_servers.is_loopback(url):
                raise ConfigError(
                    config.name,
                    f"agent.mcp_servers[{index}].{key}",
                    f"got {url!r}: a loopback URL, which only the local stack reaches; a deployed agent "
                    "needs https",
                )
    _check_environment_size(config)


def _check_environment_size(config: EnvironmentConfig) -> None:
    keyed = table_values(config.agent)
    names = sum(len(setting.variable) for setting in contract.SETTINGS)
    values = sum(
        len(setting.kind.encode(value).encode()) for setting, value in keyed.items() if value is not None
    )
    total = names + values + STACK_SET_VALUES_BYTES
    if total > MAX_ENVIRONMENT_BYTES:
        raise ConfigError(
            config.name,
            "agent",
            f"the function's environment would take about {total} bytes, over Lambda's "
            f"{MAX_ENVIRONMENT_BYTES} (all variables together); shorten agent.system_prompt or "
            "agent.mcp_servers",
        )
