"""The agent API: the sessions bucket, the Strands agent Lambda behind the Web Adapter, and its REST API.

The function's environment is the settings table's (`agent_environment`); the API and its routes are
`stacks.agent_api.rest_api`'s.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import nag
from stacks.agent_api.bundling import bundled_code
from stacks.agent_api.fallback_grant import grant_fallback
from stacks.agent_api.lambda_contract import contract, mcp_servers, setting_kinds
from stacks.agent_api.rest_api import STAGE_NAME, AgentRoutes, rest_api
from stacks.agent_api.sign_in import CognitoSignIn
from stacks.agent_api.tool_sources import grant_tool_sources
from stacks.config import (
    AgentSettings,
    ApiSettings,
    EndpointSettings,
    LambdaSettings,
    ObservabilitySettings,
    split_list,
    table_values,
)
from stacks.removal import removal_policy

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_PORT = "8080"
# What the function's role needs to send spans to CloudWatch's OTLP traces endpoint (`observability.traces:
# cloudwatch`): the IAM actions of X-Ray's span ingestion (the Service Authorization Reference's "Actions
# defined by AWS X-Ray" lists PutSpans and PutSpansForIndexing beside PutTraceSegments, which the managed
# AWSXrayWriteOnlyAccess policy CloudWatch's "Exporting collector-less traces" page names grants). None of
# them has resource-level permissions.
XRAY_SPAN_ACTIONS = ("xray:PutTraceSegments", "xray:PutSpans", "xray:PutSpansForIndexing")
_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
_WEB_ADAPTER_LAYERS = {"arm64": "LambdaAdapterLayerArm64", "x86_64": "LambdaAdapterLayerX86"}


def web_adapter_layer_arn(architecture: str, version: int) -> str:
    """ARN of the official AWS Lambda Web Adapter layer for ``architecture`` in the stack's region."""
    layer = _WEB_ADAPTER_LAYERS[architecture]
    return f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{WEB_ADAPTER_ACCOUNT}:layer:{layer}:{version}"


def agent_environment(
    agent: AgentSettings,
    endpoint_name: str,
    inference_component_name: str | None,
    text_tool_calls: str,
    sessions_bucket: str,
    sign_in: CognitoSignIn | None,
    *,
    endpoint: EndpointSettings | None = None,
    observability: ObservabilitySettings | None = None,
) -> dict[str, str]:
    """Return the function's environment: every row of the settings table explicitly, then the Web Adapter's.

    The rows with a ``cdk.json`` key take the environment's value (``table_values`` of the ``agent`` and
    ``observability`` sections and of the ``endpoint`` section's fallback keys; a section's defaults when
    None); the stack sets the others here. ``sign_in`` is the environment's Cognito sign-in (``api.auth:
    cognito``); without it callers use IAM.
    """
    derived = {
        contract.AGENT_ENDPOINT_NAME: endpoint_name,
        contract.AGENT_INFERENCE_COMPONENT_NAME: inference_component_name,
        contract.AGENT_TEXT_TOOL_CALLS: text_tool_calls,
        contract.AGENT_REGION: Aws.REGION,
        contract.AGENT_SESSIONS_BUCKET: sessions_bucket,
        contract.AGENT_AUTH: contract.AUTH_IAM if sign_in is None else contract.AUTH_COGNITO,
        **(dict.fromkeys(contract.COGNITO_SETTINGS) if sign_in is None else sign_in.function_settings()),
        contract.POWERTOOLS_SERVICE_NAME: contract.SERVICE_NAME,
    }
    return {
        **setting_kinds.environment(
            contract.SETTINGS,
            {
                **table_values(agent),
                **table_values(endpoint or EndpointSettings()),
                **table_values(observability or ObservabilitySettings()),
                **derived,
            },
        ),
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": WEB_ADAPTER_PORT,
        "AWS_LWA_READINESS_CHECK_PATH": contract.HEALTH_PATH,
    }


class AgentApi(Construct):
    """Sessions bucket, agent function and ``POST /chat`` REST API streaming the function's response.

    Every method of the API but the chat page's two is authorized the environment's way (``api.auth``): IAM
    (SigV4), or a Cognito access token carrying the API's scope (``sign_in``, made by :class:`CognitoSignIn`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        agent: AgentSettings,
        endpoint: EndpointSettings,
        observability: ObservabilitySettings,
        function_settings: LambdaSettings,
        reserved_concurrency: int,
        api_settings: ApiSettings,
        lambda_dir: Path,
        endpoint_name: str,
        inference_component_name: str | None,
        text_tool_calls: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = removal_policy(retain)
        self.sessions = s3.Bucket(
            self,
            "Sessions",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(agent.session_ttl_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=not retain,
        )
        nag.acknowledge(
            self.sessions,
            {
                "AwsSolutions-S1": "Only the agent function touches this bucket; its logs and CloudTrail "
                "record access, and sessions expire after session_ttl_days."
            },
            nag.compliance_rule(
                "S3BucketLoggingEnabled", "Only the agent function reads and writes sessions."
            ),
            nag.compliance_rule(
                "S3BucketReplicationEnabled",
                "Conversation sessions are short-lived and expendable; a replica would only widen where they "
                "are kept.",
            ),
        )

        self.api = rest_api(self, api_settings, key, log_retention, removal)
        self.sign_in = self._sign_in(api_settings, retain) if api_settings.auth == "cognito" else None
        function_logs = logs.LogGroup(
            self, "FunctionLogs", retention=log_retention, encryption_key=key, removal_policy=removal
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Strands agent over the SageMaker endpoint, streamed through the Lambda Web Adapter",
            runtime=LAMBDA_RUNTIME,
            architecture=_ARCHITECTURES[function_settings.architecture],
            # The Web Adapter execs run.sh, which starts uvicorn; the adapter proxies each invocation to it.
            handler="run.sh",
            code=bundled_code(
                lambda_dir,
                architecture=function_settings.architecture,
                python_version=LAMBDA_RUNTIME.name.removeprefix("python"),
            ),
            memory_size=function_settings.memory_mb,
            timeout=Duration.seconds(function_settings.timeout_seconds),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "WebAdapter",
                    web_adapter_layer_arn(
                        function_settings.architecture, function_settings.web_adapter_layer_version
                    ),
                )
            ],
            environment=agent_environment(
                agent,
                endpoint_name,
                inference_component_name,
                text_tool_calls,
                self.sessions.bucket_name,
                self.sign_in,
                endpoint=endpoint,
                observability=observability,
            ),
            environment_encryption=key,
            log_group=function_logs,
            tracing=lambda_.Tracing.ACTIVE,
            # Each request holds an execution for its whole stream: a cap per environment keeps a runaway
            # client from taking the account's concurrency (EnvironmentConfig.function_concurrency).
            reserved_concurrent_executions=reserved_concurrency,
        )
        self.sessions.grant_read_write(self.function)
        self.sessions.grant_delete(self.function)
        # The MCP servers' secrets, keys and gateways, exactly those (stacks/agent_api/tool_sources.py).
        grant_tool_sources(self.function, mcp_servers.parse(agent.mcp_servers))
        grant_fallback(self.function, endpoint.fallback)
        self._attach_tool_policies(agent.tool_policy_arns)
        nag.acknowledge(
            self.function,
            nag.lambda_function(
                logs="Only writes its own logs.",
                runtime="Pinned to Python 3.13: the bundled wheels are built for that runtime.",
                vpc="Calls only the SageMaker runtime and S3 public APIs.",
                concurrency=None,
                dead_letter_queue="Invoked synchronously by API Gateway, which returns errors to the "
                "caller; a DLQ applies only to asynchronous invocations.",
                inline_policy="CDK grants write this role's least-privilege policy.",
            ),
            nag.wildcard_actions(
                [*nag.BUCKET_READ_ACTIONS, *nag.BUCKET_WRITE_ACTIONS],
                "The session store reads, writes and deletes session and lock objects of this bucket only.",
            ),
            nag.wildcard_actions(nag.KEY_GRANT_ACTIONS, "Session objects use the stack's own key."),
            nag.wildcard_resources(
                [f"<{nag.logical_id(self.sessions)}.Arn>/*"],
                "Sessions are objects with ids chosen per conversation, all in this bucket.",
            ),
            nag.wildcard_resources(
                ["*"],
                "X-Ray's write actions (PutTraceSegments, PutTelemetryRecords; PutSpans, PutSpansForIndexing "
                "of the OTLP traces endpoint) have no resource-level permissions.",
            ),
        )
        self._grant_traces(observability)

        routes = AgentRoutes(self.api, self.function, self.sign_in, self._stage_url)
        self.chat_url = routes.chat(agent)
        self.openai_base_url = routes.openai()
        self.mcp_url = routes.mcp()
        routes.model_state()
        routes.page()

    def _grant_traces(self, observability: ObservabilitySettings) -> None:
        """Let the function send its traces: to X-Ray's OTLP endpoint, or with the headers in their secret.

        Exactly the configured secret (its name, with the six characters Secrets Manager appends).
        """
        if observability.traces == contract.TRACES_CLOUDWATCH:
            self.function.add_to_role_policy(
                iam.PolicyStatement(actions=list(XRAY_SPAN_ACTIONS), resources=["*"])
            )
        if observability.traces == contract.TRACES_OTLP and observability.otlp_headers_secret is not None:
            secretsmanager.Secret.from_secret_name_v2(
                self, "OtlpHeaders", observability.otlp_headers_secret
            ).grant_read(self.function)

    @property
    def page_url(self) -> str:
        """The API's root, where the app serves its chat page.

        Built from the API's id, not from its stage resource: the stage depends on the function, whose
        environment names the sign-in clients, which name this URL.
        """
        return self._stage_url("/")

    def _stage_url(self, path: str) -> str:
        """Return the URL of the app's `path` at the API's stage, built from the API's id (see `page_url`)."""
        return f"https://{self.api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/{STAGE_NAME}{path}"

    def _attach_tool_policies(self, tool_policy_arns: str) -> None:
        """Give the function's role the team's policies for what its Python tools call (docs/tools.md).

        Attaching or detaching one updates the role in place (AWS::IAM::Role ManagedPolicyArns: "Update
        requires: No interruption"); a policy that does not exist fails the role's create or update, which
        CloudFormation rolls back, so `make preflight` checks each first.
        """
        role = self.function.role
        assert role is not None, "a Function given no role makes its own"
        for index, arn in enumerate(split_list(tool_policy_arns)):
            policy = iam.ManagedPolicy.from_managed_policy_arn(self, f"ToolPolicy{index}", arn)
            role.add_managed_policy(policy)

    def _sign_in(self, api_settings: ApiSettings, retain: bool) -> CognitoSignIn:
        # Prefix domains are unique per region across every AWS account: name the stack and the account.
        prefix = api_settings.auth_domain_prefix or f"{Stack.of(self).stack_name.lower()}-{Aws.ACCOUNT_ID}"
        return CognitoSignIn(
            self,
            "SignIn",
            domain_prefix=prefix,
            callback_urls=split_list(api_settings.auth_callback_urls) or [self.page_url],
            logout_urls=split_list(api_settings.auth_logout_urls) or [self.page_url],
            retain=retain,
        )
