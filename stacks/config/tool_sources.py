"""Synth's checks of the agent's tools: what cdk.json may name, and what only the local stack can use.

- `agent.tools` names tools whose files synth could read (lambda/agent_api/tool_catalog.py names problems);
- a deployed `agent.mcp_servers` URL (and OAuth token URL) is https: a loopback URL reaches only the local
  stack; a server's call timeout is shorter than the function's, which ends the whole turn;
- `agent.tool_policy_arns` are policies of the environment's own account (IAM attaches no other account's
  policy to a role), and no more than a role takes beside the one the stack attaches itself;
- the function's environment fits Lambda's 4 KB for all its variables together ("Lambda quotas",
  https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), which a long system prompt or many
  MCP servers could pass.
"""

from __future__ import annotations

from typing import Final

from stacks.agent_api.lambda_contract import contract, mcp_servers
from stacks.config.environment import EnvironmentConfig
from stacks.config.schema import IAM_POLICY_ARN, ConfigError, split_list, table_values

MAX_ENVIRONMENT_BYTES: Final = 4 * 1024
# The most the variables the stack sets itself (endpoint and component names, region, bucket, sign-in, Web
# Adapter) take beside their names: synth checks the cdk.json values against what is left.
STACK_SET_VALUES_BYTES: Final = 768
# IAM attaches at most 20 managed policies to a role (10 until the quota is raised: "Managed policies attached
# to an IAM role", https://repost.aws/knowledge-center/iam-increase-policy-size); the function's role has
# one of its own, AWSLambdaBasicExecutionRole (CDK's default for a function).
MAX_ROLE_MANAGED_POLICIES: Final = 20
MAX_TOOL_POLICIES: Final = MAX_ROLE_MANAGED_POLICIES - 1


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
    _check_tool_policies(config)
    _check_environment_size(config)


def _check_tool_policies(config: EnvironmentConfig) -> None:
    arns = split_list(config.agent.tool_policy_arns)
    if len(arns) > MAX_TOOL_POLICIES:
        raise ConfigError(
            config.name,
            "agent.tool_policy_arns",
            f"got {len(arns)} policies; allowed: at most {MAX_TOOL_POLICIES} (IAM attaches at most "
            f"{MAX_ROLE_MANAGED_POLICIES} managed policies to a role; the function's role has one already)",
        )
    for arn in arns:
        match = IAM_POLICY_ARN.fullmatch(arn)
        assert match is not None, "the schema's rule checked every ARN"
        if config.account is not None and match["account"] != config.account:
            raise ConfigError(
                config.name,
                "agent.tool_policy_arns",
                f"{arn} is a policy of account {match['account']}; a role can have only its own account's "
                f"policies ({config.account}, the environment's account)",
            )


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
