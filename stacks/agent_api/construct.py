"""The agent API: the Strands agent Lambda behind the Web Adapter and a streaming REST API.

Every route is authorized the environment's way (IAM or Cognito), but the chat page's, which anyone may load,
and under Cognito the MCP server's OAuth protected-resource metadata, which an MCP client reads before it
signs in (RFC 9728).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
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
from stacks.agent_api.sign_in import CognitoSignIn
from stacks.agent_api.tool_sources import grant_tool_sources
from stacks.config import (
    AgentSettings,
    ApiSettings,
    EndpointSettings,
    LambdaSettings,
    ObservabilitySettings,
    split_urls,
    table_values,
)
from stacks.removal import removal_policy

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_PORT = "8080"
STAGE_NAME = "v1"
_NO_WAF_REASON = (
    "IAM (SigV4) or Cognito authorization and stage throttling guard the API; attach a WAF web ACL if it "
    "must face anonymous internet traffic."
)
_PUBLIC_PAGE_REASON = (
    "The chat page and its config.json carry no secret (the page's code, whether sessions are on, the "
    "sign-in origin and public client id) and a browser must load them before it can sign in; every other "
    "method requires the environment's authorization."
)
_PUBLIC_METADATA_REASON = (
    "The MCP server's OAuth protected-resource metadata (RFC 9728) names the public user pool issuer and the "
    "API's scope: an MCP client must read it before it has a token, as the MCP authorization specification "
    "has it."
)
_NO_STAGE_LOGS_REASON = (
    "Stage logs need the account's API Gateway CloudWatch Logs role, set once per account and region outside "
    "the environments; api.stage_logs turns them on once it is (docs/deploy.md)."
)
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


def chat_request_schema(max_prompt_chars: int, max_tokens: int) -> apigateway.JsonSchema:
    """Return the request model API Gateway checks bodies against, from the agent API's own request rules.

    The function checks again (and alone rejects a blank prompt, which JSON Schema cannot state the way
    Python's ``str.strip`` does). JSON ``null`` means "not given", as in the function.
    """
    string, null = apigateway.JsonSchemaType.STRING, apigateway.JsonSchemaType.NULL
    return apigateway.JsonSchema(
        schema=apigateway.JsonSchemaVersion.DRAFT4,
        title="ChatRequest",
        type=apigateway.JsonSchemaType.OBJECT,
        required=["prompt"],
        additional_properties=False,
        properties={
            "prompt": apigateway.JsonSchema(type=string, min_length=1, max_length=max_prompt_chars),
            # No end-of-string anchor: '$' also matches before a final newline in some regex engines
            # (Python's, Java's), so the first character and the alphabet are two anchor-free checks.
            "session_id": apigateway.JsonSchema(
                type=[string, null],
                min_length=1,
                max_length=contract.SESSION_ID_MAX_CHARS,
                pattern=f"^[{contract.SESSION_ID_FIRST_CHARS}]",
                not_=apigateway.JsonSchema(type=string, pattern=f"[^{contract.SESSION_ID_CHARS}]"),
            ),
            "max_tokens": apigateway.JsonSchema(
                type=[apigateway.JsonSchemaType.INTEGER, null],
                minimum=contract.MAX_TOKENS.low,
                maximum=max_tokens,
            ),
            "temperature": apigateway.JsonSchema(
                type=[apigateway.JsonSchemaType.NUMBER, null],
                minimum=contract.TEMPERATURE.low,
                maximum=contract.TEMPERATURE.high,
            ),
            "wait": apigateway.JsonSchema(type=[apigateway.JsonSchemaType.BOOLEAN, null]),
        },
    )


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

        self.api = self._rest_api(api_settings, key, log_retention, removal)
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

        self.chat_url = self._chat_route(agent)
        self.openai_base_url = self._openai_routes()
        self.mcp_url = self._mcp_routes()
        self._model_state_routes()
        self._page_routes()

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

    def _sign_in(self, api_settings: ApiSettings, retain: bool) -> CognitoSignIn:
        # Prefix domains are unique per region across every AWS account: name the stack and the account.
        prefix = api_settings.auth_domain_prefix or f"{Stack.of(self).stack_name.lower()}-{Aws.ACCOUNT_ID}"
        return CognitoSignIn(
            self,
            "SignIn",
            domain_prefix=prefix,
            callback_urls=split_urls(api_settings.auth_callback_urls) or [self.page_url],
            logout_urls=split_urls(api_settings.auth_logout_urls) or [self.page_url],
            retain=retain,
        )

    def _authorization(self) -> dict[str, Any]:
        """Return the authorization every method but the page's sets (cdk-nag's APIG4 and COG4 check each)."""
        if self.sign_in is not None:
            return self.sign_in.method_options()
        return {"authorization_type": apigateway.AuthorizationType.IAM}

    def _rest_api(
        self,
        api_settings: ApiSettings,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal: RemovalPolicy,
    ) -> apigateway.RestApi:
        # The account-wide AWS::ApiGateway::Account setting is never created here: two environments in one
        # account would overwrite each other's, and deleting one would break the other's logging.
        logging: dict[str, Any] = {}
        if api_settings.stage_logs:
            access_logs = logs.LogGroup(
                self, "AccessLogs", retention=log_retention, encryption_key=key, removal_policy=removal
            )
            logging = {
                "access_log_destination": apigateway.LogGroupLogDestination(access_logs),
                "access_log_format": apigateway.AccessLogFormat.json_with_standard_fields(
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
                "logging_level": apigateway.MethodLoggingLevel.ERROR,
            }
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{Stack.of(self).stack_name}-agent",
            description="Streams a Strands agent's answers (text/event-stream) over POST /chat",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=api_settings.rate_limit,
                throttling_burst_limit=api_settings.burst_limit,
                metrics_enabled=True,
                tracing_enabled=True,
                **logging,
            ),
        )
        if not api_settings.stage_logs:
            nag.acknowledge(
                api,
                {
                    "AwsSolutions-APIG1": _NO_STAGE_LOGS_REASON,
                    "AwsSolutions-APIG6": _NO_STAGE_LOGS_REASON,
                },
                nag.compliance_rule("APIGWExecutionLoggingEnabled", _NO_STAGE_LOGS_REASON),
            )
        if api_settings.auth == "iam":
            nag.acknowledge(
                api,
                {"AwsSolutions-COG4": "Callers of an api.auth 'iam' environment sign with IAM (SigV4)."},
            )
        nag.acknowledge(
            api,
            {"AwsSolutions-APIG3": _NO_WAF_REASON, "NIST.800.53.R5-APIGWAssociatedWithWAF": _NO_WAF_REASON},
            nag.compliance_rule(
                "APIGWCacheEnabledAndEncrypted", "Streamed, per-conversation answers must never be cached."
            ),
            nag.compliance_rule(
                "APIGWSSLEnabled",
                "Client certificates authenticate API Gateway to HTTP backends; this backend is a Lambda "
                "function invoked through IAM.",
            ),
        )
        return api

    def _chat_route(self, agent: AgentSettings) -> str:
        """Add ``POST /chat``: body checked against the request model, answer streamed from the function."""
        request_model = self.api.add_model(
            "ChatRequest",
            content_type="application/json",
            model_name="ChatRequest",
            schema=chat_request_schema(agent.max_prompt_chars, agent.max_tokens),
        )
        validator = self.api.add_request_validator(
            "ChatValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.api.root.add_resource(contract.CHAT_PATH.removeprefix("/")).add_method(
            "POST",
            self._streaming_integration(),
            request_validator=validator,
            request_models={"application/json": request_model},
            **self._authorization(),
        )
        return self.api.url_for_path(contract.CHAT_PATH)

    def _openai_routes(self) -> str:
        """Add the OpenAI-compatible routes; returns the base URL OpenAI clients take.

        ``POST /v1/chat/completions``, ``POST /v1/responses``, ``GET``/``DELETE /v1/responses/{id}``,
        ``GET /v1/models`` and ``GET /v1/models/{id}``. No request model: the app validates OpenAI's
        requests itself and answers in OpenAI's error shape, which API Gateway's own ``BAD_REQUEST_BODY``
        answer is not.
        """
        routes = {
            contract.OPENAI_CHAT_COMPLETIONS_PATH: ("POST",),
            contract.OPENAI_RESPONSES_PATH: ("POST",),
            f"{contract.OPENAI_RESPONSES_PATH}/{{response_id}}": ("GET", "DELETE"),
            contract.OPENAI_MODELS_PATH: ("GET",),
            f"{contract.OPENAI_MODELS_PATH}/{{model_id}}": ("GET",),
        }
        for path, methods in routes.items():
            resource = self.api.root.resource_for_path(path)
            for method in methods:
                resource.add_method(method, self._streaming_integration(), **self._authorization())
        return self.api.url_for_path(contract.OPENAI_PREFIX)

    def _mcp_routes(self) -> str:
        """Add ``/mcp``, the MCP server, and return its URL; under Cognito, the OAuth discovery too.

        ``POST``, and ``GET``/``DELETE``, which the app answers 405 (no server stream, no session to end).

        An unauthenticated request gets API Gateway's own 401 from the Cognito authorizer before the app runs;
        the MCP authorization specification asks that 401 to carry ``WWW-Authenticate: Bearer
        resource_metadata="<metadata URL>"``. A gateway response adds the header to every ``UNAUTHORIZED``
        answer of the API (gateway responses are per API and response type, and their headers may be static
        values in single quotes: "Set up a gateway response for a REST API using the API Gateway console",
        https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-gateway-response-using-the-console.html).
        The metadata itself is served by the app without authorization: a client reads it before it has a
        token.
        """
        mcp = self.api.root.resource_for_path(contract.MCP_PATH)
        for method in ("POST", "GET", "DELETE"):
            mcp.add_method(method, self._streaming_integration(), **self._authorization())
        if self.sign_in is not None:
            metadata = self.api.root.resource_for_path(contract.PROTECTED_RESOURCE_METADATA_PATH).add_method(
                "GET", self._streaming_integration(), authorization_type=apigateway.AuthorizationType.NONE
            )
            nag.acknowledge(
                metadata,
                {"AwsSolutions-APIG4": _PUBLIC_METADATA_REASON, "AwsSolutions-COG4": _PUBLIC_METADATA_REASON},
            )
            challenge = (
                f'Bearer resource_metadata="{self._stage_url(contract.PROTECTED_RESOURCE_METADATA_PATH)}", '
                f'scope="{contract.COGNITO_API_SCOPE}"'
            )
            self.api.add_gateway_response(
                "Unauthorized",
                type=apigateway.ResponseType.UNAUTHORIZED,
                status_code="401",
                response_headers={"WWW-Authenticate": f"'{challenge}'"},
                templates={"application/json": '{"message":$context.error.messageString}'},
            )
        return self.api.url_for_path(contract.MCP_PATH)

    def _model_state_routes(self) -> None:
        """Add ``GET /status`` and ``POST /warm``, so a model scaled to zero can be checked and woken."""
        self.api.root.resource_for_path(contract.STATUS_PATH).add_method(
            "GET", self._streaming_integration(), **self._authorization()
        )
        self.api.root.resource_for_path(contract.WARM_PATH).add_method(
            "POST", self._streaming_integration(), **self._authorization()
        )

    def _page_routes(self) -> None:
        """Add ``GET /`` (the chat page) and ``GET /config.json`` (how it signs in), with no authorization.

        A browser cannot sign SigV4, and under Cognito it needs the page and its configuration to start the
        sign-in; both are the same for every caller. The page then sends its access token on every call.
        """
        for path in (contract.PAGE_PATH, contract.PAGE_CONFIG_PATH):
            method = self.api.root.resource_for_path(path).add_method(
                "GET",
                self._streaming_integration(),
                authorization_type=apigateway.AuthorizationType.NONE,
            )
            nag.acknowledge(
                method,
                {"AwsSolutions-APIG4": _PUBLIC_PAGE_REASON, "AwsSolutions-COG4": _PUBLIC_PAGE_REASON},
            )

    def _streaming_integration(self) -> apigateway.LambdaIntegration:
        """Proxy to the function, streaming its response."""
        return apigateway.LambdaIntegration(
            self.function,
            proxy=True,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            # Streaming integrations may run up to 15 minutes (buffered ones stop at 29 seconds).
            timeout=Duration.minutes(15),
        )
