"""One environment's stack: composes image build, endpoint, agent API and monitoring, and wires grants."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.agent_api.construct import AgentApi
from stacks.agent_api.tool_sources import tool_source_widgets
from stacks.config import LOG_RETENTION_DAYS, EnvironmentConfig
from stacks.image_build.construct import ServingImage
from stacks.inference.construct import InferenceEndpoint
from stacks.inference.hosting import ComponentSpec
from stacks.monitoring import Monitoring
from stacks.removal import removal_policy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# jsii enums carry member names, not day counts; CDK declares the finite periods in ascending order.
_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        [r for r in logs.RetentionDays if r is not logs.RetentionDays.INFINITE],
        strict=True,
    )
)


class SageMakerAgentStack(Stack):
    """Serving image build, GPU SageMaker endpoint and streaming agent API of one environment."""

    def __init__(self, scope: Construct, config: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            env=Environment(account=config.account, region=config.region),
            description=f"LLM on a GPU SageMaker endpoint with a streaming Strands agent API ({config.name})",
        )
        retention = _RETENTION[config.monitoring.log_retention_days]
        key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {config.stack_name}'s images, logs, sessions, alarms and build artifacts",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            # Scheduled for deletion with a dev stack; kept with the data it encrypts where data is retained.
            removal_policy=removal_policy(config.retain_data),
        )
        # CloudWatch Logs encrypts every log group of this stack with the key, and only this account's log
        # groups in this region may use it (the encryption-context condition AWS documents for log groups:
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{self.partition}:logs:{self.region}:{self.account}:*"
                        )
                    }
                },
            )
        )

        image = ServingImage(
            self,
            "ServingImage",
            container_dir=PROJECT_ROOT / "container",
            engine=config.model.engine,
            base_images=config.image,
            pull_through_prefix=config.pull_through_prefix,
            key=key,
            log_retention=retention,
            retain=config.retain_data,
        )
        monitoring = Monitoring(self, "Monitoring", settings=config.monitoring, key=key)
        rollback_alarms = monitoring.watch_endpoint(
            config.endpoint_name, config.gpu_count, config.inference_component_name
        )
        component = None
        if config.inference_component_name is not None:
            component = ComponentSpec(
                name=config.inference_component_name,
                accelerators=config.tp_degree,
                memory_mb=config.copy_memory_mb,
                copies_per_instance=config.copies_per_instance,
                max_instances=config.max_ic_instances,
            )
        inference = InferenceEndpoint(
            self,
            "Inference",
            endpoint_name=config.endpoint_name,
            model=config.model,
            tp_degree=config.tp_degree,
            endpoint=config.endpoint,
            image_uri=image.image_uri,
            repository=image.repository,
            key=key,
            log_retention=retention,
            retain=config.retain_data,
            rollback_alarms=rollback_alarms,
            component=component,
        )
        agent = AgentApi(
            self,
            "AgentApi",
            agent=config.agent,
            endpoint=config.endpoint,
            observability=config.observability,
            function_settings=config.lambda_,
            reserved_concurrency=config.function_concurrency,
            api_settings=config.api,
            lambda_dir=PROJECT_ROOT / "lambda",
            endpoint_name=inference.endpoint.attr_endpoint_name,
            inference_component_name=config.inference_component_name,
            text_tool_calls=config.text_tool_calls,
            key=key,
            log_retention=retention,
            retain=config.retain_data,
        )
        inference.grant_invoke(agent.function)
        inference.grant_wake(agent.function)
        monitoring.watch_agent(agent.function, agent.api, config.agent.metrics_namespace)
        monitoring.watch_turns(config.agent.metrics_namespace)
        sources = [server["name"] for server in config.agent.mcp_servers]
        monitoring.dashboard.add_widgets(*tool_source_widgets(config.agent.metrics_namespace, sources))

        credentials = "SigV4-signed" if agent.sign_in is None else "with a Cognito access token as bearer"
        CfnOutput(self, "ChatUrl", value=agent.chat_url, description=f"POST a JSON body here, {credentials}")
        CfnOutput(self, "ApiUrl", value=agent.api.url, description="Base URL of the agent REST API stage")
        CfnOutput(
            self,
            "McpUrl",
            value=agent.mcp_url,
            description=f"the MCP server (Streamable HTTP), {credentials}",
        )
        CfnOutput(
            self, "OpenAIBaseUrl", value=agent.openai_base_url, description="base_url for OpenAI clients"
        )
        CfnOutput(self, "EndpointName", value=inference.endpoint.attr_endpoint_name)
        if config.inference_component_name is not None:
            CfnOutput(self, "InferenceComponentName", value=config.inference_component_name)
        CfnOutput(
            self,
            "ModelLogGroup",
            value=inference.model_log_group_name,
            description="The serving container's log group (the component's, in inference-component mode)",
        )
        CfnOutput(self, "RepositoryUri", value=image.repository.repository_uri)
        CfnOutput(self, "ImageUri", value=image.image_uri)
        if agent.sign_in is not None:
            sign_in = agent.sign_in
            CfnOutput(self, "UserPoolId", value=sign_in.user_pool.user_pool_id)
            CfnOutput(
                self,
                "BrowserClientId",
                value=sign_in.browser_client.user_pool_client_id,
                description="Public app client of the chat page (authorization code with PKCE)",
            )
            CfnOutput(
                self,
                "MachineClientId",
                value=sign_in.machine_client.user_pool_client_id,
                description="App client of programs (client credentials; docs/deploy.md shows its secret)",
            )
            CfnOutput(
                self,
                "LoginUrl",
                value=sign_in.login_url,
                description="Managed login (the chat page's sign-in)",
            )
            CfnOutput(
                self,
                "TokenUrl",
                value=sign_in.token_url,
                description="OAuth 2.0 token endpoint (client credentials)",
            )
