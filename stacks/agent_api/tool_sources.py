"""The stack's side of the agent's tool sources (`agent.mcp_servers`): the function's permissions, dashboard.

Synth's own checks of them are stacks/config/tool_sources.py's.

- Permissions: exactly what the servers' `auth` names. `secretsmanager:GetSecretValue` on each named secret
  (its ARN ends in the random six characters Secrets Manager adds, which `-??????` matches, as CDK's
  `Secret.fromSecretNameV2` grants do); `kms:Decrypt`, through Secrets Manager only, on a customer managed key
  a secret names (a secret under the AWS managed key `aws/secretsmanager` needs none: that key's policy lets
  the account's principals use it through Secrets Manager, "Secret encryption and decryption in AWS Secrets
  Manager", https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html); and
  `bedrock-agentcore:InvokeGateway` on each AgentCore Gateway signed for with SigV4, its ARN
  `arn:${Partition}:bedrock-agentcore:${Region}:${Account}:gateway/${GatewayId}` (the gateway's own region,
  from its URL, in the stack's account: "Set up inbound authorization for your gateway", IAM-based inbound
  authorization, https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-inbound-auth.html, and
  the Service Authorization Reference, "Actions, resources, and condition keys for Amazon Bedrock AgentCore",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrockagentcore.html).
- Dashboard: one graph per server of its calls, errors, timeouts and unavailable turns, one of its latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from stacks.agent_api.lambda_contract import contract, mcp_servers

INVOKE_GATEWAY: Final = "bedrock-agentcore:InvokeGateway"
_PERIOD: Final = Duration.minutes(5)


def grant_tool_sources(function: lambda_.Function, servers: Sequence[mcp_servers.McpServer]) -> None:
    """Let ``function`` read exactly the servers' secrets (and keys) and invoke exactly their gateways."""
    stack = Stack.of(function)
    secrets = sorted({secret for server in servers for secret in server.secrets})
    keys = sorted(
        {
            auth.kms_key_arn
            for auth in (server.auth for server in servers)
            if isinstance(auth, mcp_servers.BearerAuth | mcp_servers.OAuthClientCredentials)
            and auth.kms_key_arn
        }
    )
    gateways = sorted(
        {
            (server.gateway.region, server.gateway.gateway_id)
            for server in servers
            if isinstance(server.auth, mcp_servers.SigV4Auth) and server.gateway is not None
        }
    )
    if secrets:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[
                    stack.format_arn(
                        service="secretsmanager",
                        resource="secret",
                        resource_name=f"{secret}-??????",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for secret in secrets
                ],
            )
        )
    if keys:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=keys,
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
            )
        )
    if gateways:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[INVOKE_GATEWAY],
                resources=[
                    f"arn:{Aws.PARTITION}:bedrock-agentcore:{region}:{Aws.ACCOUNT_ID}:gateway/{gateway_id}"
                    for region, gateway_id in gateways
                ],
            )
        )


def tool_source_widgets(namespace: str, names: Sequence[str]) -> list[cloudwatch.IWidget]:
    """Return each server's graphs: calls, errors, timeouts and unavailable turns; latency."""
    widgets: list[cloudwatch.IWidget] = []
    for name in names:

        def metric(metric_name: str, statistic: str = "Sum", *, source: str = name) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=metric_name,
                dimensions_map={"service": contract.SERVICE_NAME, contract.TOOL_SOURCE_DIMENSION: source},
                statistic=statistic,
                period=_PERIOD,
            )

        widgets.append(
            cloudwatch.GraphWidget(
                title=f"Tool source {name}: calls",
                left=[
                    metric(contract.TOOL_SOURCE_CALLS_METRIC),
                    metric(contract.TOOL_SOURCE_ERRORS_METRIC),
                    metric(contract.TOOL_SOURCE_TIMEOUTS_METRIC),
                    metric(contract.TOOL_SOURCE_UNAVAILABLE_METRIC),
                ],
            )
        )
        widgets.append(
            cloudwatch.GraphWidget(
                title=f"Tool source {name}: latency (ms)",
                left=[
                    metric(contract.TOOL_SOURCE_LATENCY_METRIC, "p50"),
                    metric(contract.TOOL_SOURCE_LATENCY_METRIC, "p90"),
                ],
            )
        )
    return widgets
