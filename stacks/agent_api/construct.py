"""The agent API: the Strands agent Lambda behind the Web Adapter and an IAM-authorized streaming REST API."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, BundlingOptions, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.agent_api.bundling import SOURCE_EXCLUDES, UNUSED_DOCKER_IMAGE, PipLocalBundling
from stacks.config import EnvironmentConfig
from stacks.nag import acknowledge, compliance_rule, logical_id

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
WEB_ADAPTER_ACCOUNT = "753240598075"
SESSION_ID_PATTERN = "^[A-Za-z0-9_-]{1,128}$"
_NO_WAF_REASON = (
    "IAM (SigV4) authorization and stage throttling guard the API; attach a WAF web ACL if it must face "
    "anonymous internet traffic."
)
_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
_WEB_ADAPTER_LAYERS = {"arm64": "LambdaAdapterLayerArm64", "x86_64": "LambdaAdapterLayerX86"}


def web_adapter_layer_arn(architecture: str, version: int) -> str:
    """ARN of the official AWS Lambda Web Adapter layer for ``architecture`` in the stack's region."""
    layer = _WEB_ADAPTER_LAYERS[architecture]
    return f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{WEB_ADAPTER_ACCOUNT}:layer:{layer}:{version}"


def agent_environment(config: EnvironmentConfig, endpoint_name: str, sessions_bucket: str) -> dict[str, str]:
    """Return the function's environment: AGENT_* settings (docs/agent-api.md), Powertools, Web Adapter."""
    agent = config.agent
    env = {
        "AGENT_ENDPOINT_NAME": endpoint_name,
        "AGENT_REGION": Aws.REGION,
        "AGENT_RESPONSE_FORMAT": agent.response_format,
        "AGENT_MAX_TOKENS": str(agent.max_tokens),
        "AGENT_TEMPERATURE": str(agent.temperature),
        "AGENT_TOOLS": agent.tools,
        "AGENT_SESSIONS_BUCKET": sessions_bucket,
        "AGENT_MAX_PROMPT_CHARS": str(agent.max_prompt_chars),
        "POWERTOOLS_SERVICE_NAME": "agent-api",
        "POWERTOOLS_METRICS_NAMESPACE": "SageMakerAgent",
        "POWERTOOLS_LOG_LEVEL": agent.log_level,
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": "8080",
        "AWS_LWA_READINESS_CHECK_PATH": "/health",
    }
    if agent.system_prompt is not None:
        env["AGENT_SYSTEM_PROMPT"] = agent.system_prompt
    return env


class AgentApi(Construct):
    """Sessions bucket, agent function and ``POST /chat`` REST API streaming the function's response."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        lambda_dir: Path,
        endpoint_name: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
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
                    expiration=Duration.days(config.agent.session_ttl_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=not config.retain_data,
        )
        acknowledge(
            self.sessions,
            {
                "AwsSolutions-S1": "Only the agent function touches this bucket; its logs and CloudTrail "
                "record access, and sessions expire after session_ttl_days.",
                **compliance_rule(
                    "S3BucketLoggingEnabled", "Only the agent function reads and writes sessions."
                ),
                **compliance_rule(
                    "S3BucketReplicationEnabled",
                    "Conversation sessions are short-lived and "
                    "expendable; a replica would only widen where they are kept.",
                ),
            },
        )
        self.function = self._function(config, lambda_dir, endpoint_name, key, log_retention, removal)
        self.sessions.grant_read_write(self.function)
        self.sessions.grant_delete(self.function)
        acknowledge(
            self.function,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": "Only writes its own logs.",
                "AwsSolutions-L1": "Pinned to Python 3.13: the bundled wheels are built for that runtime.",
                **{
                    f"AwsSolutions-IAM5[Action::{action}]": "S3SessionManager reads, writes and deletes "
                    "session objects of the sessions bucket only."
                    for action in (
                        "s3:GetObject*",
                        "s3:GetBucket*",
                        "s3:List*",
                        "s3:DeleteObject*",
                        "s3:Abort*",
                    )
                },
                f"AwsSolutions-IAM5[Resource::<{logical_id(self.sessions)}.Arn>/*]": "Sessions are objects "
                "with ids chosen per conversation, all in this bucket.",
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Session objects use the stack's own key.",
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "Session objects use the stack's own key.",
                "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords have no "
                "resource-level permissions.",
                **compliance_rule("LambdaInsideVPC", "Calls only the SageMaker runtime and S3 public APIs."),
                **compliance_rule(
                    "LambdaConcurrency", "Concurrency is bounded by the API stage's throttling."
                ),
                **compliance_rule(
                    "LambdaDLQ",
                    "Invoked synchronously by API Gateway, which returns errors to "
                    "the caller; a DLQ applies only to asynchronous invocations.",
                ),
                **compliance_rule(
                    "IAMNoInlinePolicy", "CDK grants write this role's least-privilege policy."
                ),
            },
        )
        self.api = self._rest_api(config, key, log_retention, removal)

    def _function(
        self,
        config: EnvironmentConfig,
        lambda_dir: Path,
        endpoint_name: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal: RemovalPolicy,
    ) -> lambda_.Function:
        settings = config.lambda_
        bundler = PipLocalBundling(
            lambda_dir,
            architecture=settings.architecture,
            python_version=LAMBDA_RUNTIME.name.removeprefix("python"),
        )
        code = lambda_.Code.from_asset(
            str(lambda_dir),
            exclude=[f"**/{pattern}" for pattern in SOURCE_EXCLUDES],
            bundling=BundlingOptions(image=UNUSED_DOCKER_IMAGE, local=bundler),  # type: ignore[arg-type]
        )
        function_logs = logs.LogGroup(
            self, "FunctionLogs", retention=log_retention, encryption_key=key, removal_policy=removal
        )
        return lambda_.Function(
            self,
            "Function",
            description="Strands agent over the SageMaker endpoint, streamed through the Lambda Web Adapter",
            runtime=LAMBDA_RUNTIME,
            architecture=_ARCHITECTURES[settings.architecture],
            # The Web Adapter execs run.sh, which starts uvicorn; the adapter proxies each invocation to it.
            handler="run.sh",
            code=code,
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "WebAdapter",
                    web_adapter_layer_arn(settings.architecture, settings.web_adapter_layer_version),
                )
            ],
            environment=agent_environment(config, endpoint_name, self.sessions.bucket_name),
            environment_encryption=key,
            log_group=function_logs,
            tracing=lambda_.Tracing.ACTIVE,
        )

    def _rest_api(
        self,
        config: EnvironmentConfig,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal: RemovalPolicy,
    ) -> apigateway.RestApi:
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, encryption_key=key, removal_policy=removal
        )
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{Stack.of(self).stack_name}-agent",
            description="Streams a Strands agent's answers (text/event-stream) over POST /chat",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal,
            deploy_options=apigateway.StageOptions(
                stage_name="v1",
                throttling_rate_limit=config.api.rate_limit,
                throttling_burst_limit=config.api.burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        request_model = api.add_model(
            "ChatRequest",
            content_type="application/json",
            model_name="ChatRequest",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                title="ChatRequest",
                type=apigateway.JsonSchemaType.OBJECT,
                required=["prompt"],
                additional_properties=False,
                properties={
                    "prompt": apigateway.JsonSchema(
                        type=apigateway.JsonSchemaType.STRING,
                        min_length=1,
                        max_length=config.agent.max_prompt_chars,
                    ),
                    "session_id": apigateway.JsonSchema(
                        type=apigateway.JsonSchemaType.STRING, pattern=SESSION_ID_PATTERN
                    ),
                    "max_tokens": apigateway.JsonSchema(type=apigateway.JsonSchemaType.INTEGER, minimum=1),
                    "temperature": apigateway.JsonSchema(
                        type=apigateway.JsonSchemaType.NUMBER, minimum=0, maximum=2
                    ),
                },
            ),
        )
        validator = api.add_request_validator(
            "ChatValidator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigateway.LambdaIntegration(
            self.function,
            proxy=True,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            # Streaming integrations may run up to 15 minutes (buffered ones stop at 29 seconds).
            timeout=Duration.minutes(15),
        )
        chat = api.root.add_resource("chat")
        chat.add_method(
            "POST",
            integration,
            authorization_type=apigateway.AuthorizationType.IAM,
            request_validator=validator,
            request_models={"application/json": request_model},
        )
        self.chat_url = api.url_for_path("/chat")
        acknowledge(
            api,
            {
                "AwsSolutions-APIG3": _NO_WAF_REASON,
                "NIST.800.53.R5-APIGWAssociatedWithWAF": _NO_WAF_REASON,
                "AwsSolutions-COG4": "Callers authenticate with IAM (SigV4), not Cognito user pools.",
                **compliance_rule(
                    "APIGWCacheEnabledAndEncrypted",
                    "Streamed, per-conversation answers must never be cached.",
                ),
                **compliance_rule(
                    "APIGWSSLEnabled",
                    "Client certificates authenticate API Gateway to HTTP "
                    "backends; this backend is a Lambda function invoked through IAM.",
                ),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": "The AWS-managed role API Gateway needs to write "
                "execution logs.",
            },
        )
        return api
