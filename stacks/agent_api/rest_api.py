"""The agent API's REST API: a streaming stage, and every route of the app proxied to the function.

Every route is authorized the environment's way (IAM or Cognito), but the chat page's, which anyone may load,
and under Cognito the MCP server's OAuth protected-resource metadata, which an MCP client reads before it
signs in (RFC 9728).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import nag
from stacks.agent_api.lambda_contract import contract
from stacks.agent_api.sign_in import CognitoSignIn
from stacks.config import AgentSettings, ApiSettings

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


def rest_api(
    scope: Construct,
    api_settings: ApiSettings,
    key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal: RemovalPolicy,
) -> apigateway.RestApi:
    """Return the streaming REST API: its stage (throttling, metrics, traces, optional logs), no routes."""
    # The account-wide AWS::ApiGateway::Account setting is never created here: two environments in one
    # account would overwrite each other's, and deleting one would break the other's logging.
    logging: dict[str, Any] = {}
    if api_settings.stage_logs:
        access_logs = logs.LogGroup(
            scope, "AccessLogs", retention=log_retention, encryption_key=key, removal_policy=removal
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
        scope,
        "Api",
        rest_api_name=f"{Stack.of(scope).stack_name}-agent",
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


class AgentRoutes:
    """Adds the app's routes to `api`, each proxied to `function` with its response streamed.

    `stage_url` gives the URL of an app path at the API's stage (for the MCP server's 401 challenge);
    `sign_in` is the environment's Cognito sign-in, or None under IAM.
    """

    def __init__(
        self,
        api: apigateway.RestApi,
        function: lambda_.IFunction,
        sign_in: CognitoSignIn | None,
        stage_url: Callable[[str], str],
    ) -> None:
        self._api = api
        self._function = function
        self._sign_in = sign_in
        self._stage_url = stage_url

    def _authorization(self) -> dict[str, Any]:
        """Return the authorization every method but the page's sets (cdk-nag's APIG4 and COG4 check each)."""
        if self._sign_in is not None:
            return self._sign_in.method_options()
        return {"authorization_type": apigateway.AuthorizationType.IAM}

    def chat(self, agent: AgentSettings) -> str:
        """Add ``POST /chat``: body checked against the request model, answer streamed from the function."""
        request_model = self._api.add_model(
            "ChatRequest",
            content_type="application/json",
            model_name="ChatRequest",
            schema=chat_request_schema(agent.max_prompt_chars, agent.max_tokens),
        )
        validator = self._api.add_request_validator(
            "ChatValidator", validate_request_body=True, validate_request_parameters=True
        )
        self._api.root.add_resource(contract.CHAT_PATH.removeprefix("/")).add_method(
            "POST",
            self._streaming_integration(),
            request_validator=validator,
            request_models={"application/json": request_model},
            **self._authorization(),
        )
        return self._api.url_for_path(contract.CHAT_PATH)

    def openai(self) -> str:
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
            resource = self._api.root.resource_for_path(path)
            for method in methods:
                resource.add_method(method, self._streaming_integration(), **self._authorization())
        return self._api.url_for_path(contract.OPENAI_PREFIX)

    def mcp(self) -> str:
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
        mcp = self._api.root.resource_for_path(contract.MCP_PATH)
        for method in ("POST", "GET", "DELETE"):
            mcp.add_method(method, self._streaming_integration(), **self._authorization())
        if self._sign_in is not None:
            metadata = self._api.root.resource_for_path(contract.PROTECTED_RESOURCE_METADATA_PATH).add_method(
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
            self._api.add_gateway_response(
                "Unauthorized",
                type=apigateway.ResponseType.UNAUTHORIZED,
                status_code="401",
                response_headers={"WWW-Authenticate": f"'{challenge}'"},
                templates={"application/json": '{"message":$context.error.messageString}'},
            )
        return self._api.url_for_path(contract.MCP_PATH)

    def model_state(self) -> None:
        """Add ``GET /status`` and ``POST /warm``, so a model scaled to zero can be checked and woken."""
        self._api.root.resource_for_path(contract.STATUS_PATH).add_method(
            "GET", self._streaming_integration(), **self._authorization()
        )
        self._api.root.resource_for_path(contract.WARM_PATH).add_method(
            "POST", self._streaming_integration(), **self._authorization()
        )

    def page(self) -> None:
        """Add ``GET /`` (the chat page) and ``GET /config.json`` (how it signs in), with no authorization.

        A browser cannot sign SigV4, and under Cognito it needs the page and its configuration to start the
        sign-in; both are the same for every caller. The page then sends its access token on every call.
        """
        for path in (contract.PAGE_PATH, contract.PAGE_CONFIG_PATH):
            method = self._api.root.resource_for_path(path).add_method(
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
            self._function,
            proxy=True,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            # Streaming integrations may run up to 15 minutes (buffered ones stop at 29 seconds).
            timeout=Duration.minutes(15),
        )
