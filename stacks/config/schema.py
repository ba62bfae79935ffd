"""The schema of an environment in ``cdk.json``: each section's keys, types, defaults and allowed values.

Each section is a frozen dataclass whose fields are declared with :func:`rule` (default, a description of what
is allowed, a check), or with :func:`table_setting` when the key is a row of the agent API's settings table
(lambda/agent_api/contract.py, which then holds its default, kind and variable); ``stacks.config.parse``
reads ``cdk.json`` against these declarations, and ``stacks.config.rules`` checks what involves more than
one key.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from stacks.agent_api.lambda_contract import contract, setting_kinds
from stacks.inference.serving_contract import serving
from stacks.instance_types import GPU_COUNT

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# GPU inference AMIs of AWS::SageMaker::EndpointConfig ProductionVariant.InferenceAmiVersion.
INFERENCE_AMI_VERSIONS = (
    "al2023-ami-sagemaker-inference-gpu-4-1",  # NVIDIA driver 580, CUDA 13.0
    "al2-ami-sagemaker-inference-gpu-3-1",  # NVIDIA driver 550, CUDA 12.4
    "al2-ami-sagemaker-inference-gpu-2-1",  # NVIDIA driver 535, CUDA 12.2
    "al2-ami-sagemaker-inference-gpu-2",  # NVIDIA driver 535, CUDA 12.2
)
# Lambda's limit on a function's timeout (botocore's CreateFunction Timeout: "the maximum allowed value is 900
# seconds"; the 5,400-second model limit is for Lambda Managed Instances' asynchronous invocations only).
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# The agent function's default reserved concurrency: this many executions per request the endpoint serves at
# once, for requests waiting on tools or on a model warming up (docs/deploy.md, "Agent function concurrency").
FUNCTION_CONCURRENCY_PER_REQUEST = 2
# An SNS topic ARN: topic names are 1-256 letters, digits, '-' and '_', a FIFO topic's ending in '.fifo'
# (botocore's sns model, CreateTopic Name).
SNS_TOPIC_ARN = re.compile(
    r"arn:aws[a-z-]*:sns:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:([A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)"
)
# A customer managed IAM policy: its account, its path and its name (botocore's iam model: policyPathType
# `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, policyNameType `[\w+=,.@-]+`, 1-128). An AWS managed policy has `aws` for
# an account (`arn:aws:iam::aws:policy/...`) and is refused: it grants far more than one tool needs.
IAM_POLICY_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):policy(?P<path>(/[A-Za-z0-9.,+@=_-]+)*)/[\w+=,.@-]{1,128}"
)
# How the endpoint hosts the model (docs/deploy.md, "Endpoint modes").
SINGLE_MODEL = "single-model"
INFERENCE_COMPONENT = "inference-component"
ENDPOINT_MODES = (SINGLE_MODEL, INFERENCE_COMPONENT)
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+/)?$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
# The oldest Lambda Web Adapter layer (LambdaAdapterLayerX86/Arm64 version 18, adapter v0.7.2) that replaces a
# client's own `x-amzn-request-context` header with API Gateway's request context: earlier layers appended the
# real one after the client's, and the app would read the client's first (aws-lambda-web-adapter PR #286,
# "override user-set x-amzn-{lambda,request}-context headers", first released in v0.7.2, whose README names
# layer 18). The app names each session's owner from that header (docs/agent-api.md, "Security").
MIN_WEB_ADAPTER_LAYER_VERSION = 18
# How callers of a deployed agent API authenticate: SigV4 with IAM credentials, or Cognito user pool tokens
# (the agent API's own `none` is the local stack's, which API Gateway never fronts).
AUTH_MODES = (contract.AUTH_IAM, contract.AUTH_COGNITO)
# A Cognito prefix domain (botocore's cognito-idp DomainType; the managed login lives at
# https://<prefix>.auth.<region>.amazoncognito.com).
_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")
# Cognito accepts plain http only for these hosts, "for testing purposes only" (botocore's cognito-idp
# CreateUserPoolClient CallbackURLs); every other callback or sign-out URL must be https.
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class ConfigError(ValueError):
    """Invalid environment settings; the message names the environment, the key and what is allowed."""

    def __init__(self, environment: str, key: str, problem: str) -> None:
        super().__init__(f"cdk.json environment {environment!r}: {key}: {problem}")
        self.environment = environment
        self.key = key


def rule(default: Any, allowed: str, check: Callable[[Any], bool] = lambda _: True) -> Any:
    """Declare a setting with its default, a description of allowed values and a value check."""
    return field(default=default, metadata={"allowed": allowed, "check": check})


def table_setting(setting: setting_kinds.Setting) -> Any:
    """Declare a key that is a row of the agent API's settings table: its default and rule are the row's.

    ``stacks.config.parse`` checks its value with the row's kind, and :func:`table_values` hands it to the
    function's environment (stacks/agent_api/construct.py). A list or object default (a JSON kind) is copied
    for each environment.
    """
    metadata = {"allowed": setting.kind.allowed, "setting": setting}
    if isinstance(setting.default, list | dict):
        return field(default_factory=functools.partial(copy.deepcopy, setting.default), metadata=metadata)
    return field(default=setting.default, metadata=metadata)


def table_values(section: DataclassInstance) -> dict[setting_kinds.Setting, Any]:
    """Return a section's values of the keys that are rows of the settings table, by row."""
    return {
        f.metadata["setting"]: getattr(section, f.name)
        for f in dataclasses.fields(section)
        if "setting" in f.metadata
    }


@dataclass(frozen=True)
class ModelSettings:
    """What the serving container runs (its SERVE_* settings, docs/container.md): engine, weights, flags."""

    engine: str = rule("sglang", "'sglang' or 'vllm'", lambda v: v in ("sglang", "vllm"))
    hf_model_id: str | None = rule(None, "a Hugging Face model id like 'org/name'", lambda v: "/" in v)
    hf_token_secret_name: str | None = rule(
        None, "a Secrets Manager secret name", lambda v: bool(_SECRET_NAME.match(v))
    )
    s3_uri: str | None = rule(
        None,
        "an S3 prefix of uncompressed weights ending in '/', like 's3://bucket/llama/'",
        lambda v: bool(_S3_PREFIX.match(v)),
    )
    tp_degree: int | None = rule(
        None, "a positive integer dividing the instance's GPU count", lambda v: v >= 1
    )
    max_model_len: int | None = rule(None, "a positive integer (tokens)", lambda v: v >= 1)
    # The model family: the tool-call and reasoning parsers each engine runs it with (docs/container.md).
    profile: str = rule(
        serving.DEFAULT_PROFILE, f"one of {', '.join(serving.PROFILES)}", lambda v: v in serving.PROFILES
    )
    # Overrides of the profile's parsers; names the engine has, or 'none' (checked against the engine below).
    tool_call_parser: str | None = rule(None, "the engine's tool-call parser name, or 'none'")
    reasoning_parser: str | None = rule(None, "the engine's reasoning parser name, or 'none'")
    extra_args: str = rule("", "extra engine flags as one string")


@dataclass(frozen=True)
class EndpointSettings:
    """The SageMaker real-time endpoint: hosting mode, instance type, scaling bounds and start-up limits.

    ``single-model`` runs the model on the endpoint's variant and scales instances (``min_instances``..
    ``max_instances``, at least one). ``inference-component`` runs it as an inference component whose
    copies scale (``min_copies``..``max_copies``, 0 allowed); SageMaker adds and removes their instances.
    ``fallback`` and ``fallback_on_throttle`` are the agent API's (the model answering while this one has no
    copy in service), passed to the function as its environment.
    """

    mode: str = rule(
        SINGLE_MODEL, " or ".join(repr(m) for m in ENDPOINT_MODES), lambda v: v in ENDPOINT_MODES
    )
    instance_type: str = rule(
        "ml.g6.12xlarge", f"a GPU ml.* instance type: {', '.join(GPU_COUNT)}", lambda v: v in GPU_COUNT
    )
    min_instances: int = rule(1, "an integer >= 1 (single-model mode)", lambda v: v >= 1)
    max_instances: int = rule(1, "an integer >= min_instances (single-model mode)", lambda v: v >= 1)
    min_copies: int = rule(
        0,
        "an integer >= 0 (inference-component mode; 0 scales the endpoint to zero when idle)",
        lambda v: v >= 0,
    )
    max_copies: int = rule(
        1, "an integer >= 1 and >= min_copies (inference-component mode)", lambda v: v >= 1
    )
    startup_health_check_timeout_seconds: int = rule(1800, "60..3600", lambda v: 60 <= v <= 3600)
    model_download_timeout_seconds: int = rule(1800, "60..3600", lambda v: 60 <= v <= 3600)
    inference_ami_version: str = rule(
        INFERENCE_AMI_VERSIONS[0],
        f"one of {', '.join(INFERENCE_AMI_VERSIONS)}",
        lambda v: v in INFERENCE_AMI_VERSIONS,
    )
    target_concurrent_requests: int = rule(
        8,
        "an integer >= 1 (in-flight requests per instance, or per copy in inference-component mode)",
        lambda v: v >= 1,
    )
    # The fallback model (issue 23): rows of the agent API's settings table, checked by its rules.
    fallback: Mapping[str, Any] | None = table_setting(contract.AGENT_FALLBACK)
    fallback_on_throttle: bool = table_setting(contract.AGENT_FALLBACK_ON_THROTTLE)

    @property
    def inference_component(self) -> bool:
        """Whether the model runs as an inference component (copies scale, down to zero if allowed)."""
        return self.mode == INFERENCE_COMPONENT


BASE_IMAGE_SOURCES = ("ecr-pull-through", "docker-hub")
PULL_THROUGH_SECRET_PREFIX = "ecr-pullthroughcache/"  # noqa: S105 (a name prefix ECR requires)
# ECR's CreatePullThroughCacheRule ecrRepositoryPrefix (botocore's ECR model): 2-30 characters.
_PULL_THROUGH_PREFIX = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
PULL_THROUGH_PREFIX_MAX = 30


@dataclass(frozen=True)
class ImageSettings:
    """Where the image build pulls the engines' base images from (docs/container.md, "Base images")."""

    base_images: str = rule(
        "ecr-pull-through",
        "'ecr-pull-through' (an ECR pull-through cache of Docker Hub, authenticated) or 'docker-hub' "
        "(anonymous pulls, rate-limited per IP)",
        lambda v: v in BASE_IMAGE_SOURCES,
    )
    pull_through_prefix: str | None = rule(
        None,
        f"an ECR repository prefix of 2-{PULL_THROUGH_PREFIX_MAX} lower-case letters, digits and . _ -, "
        "unique per account and region (default '<environment>-docker-hub')",
        lambda v: 2 <= len(v) <= PULL_THROUGH_PREFIX_MAX and bool(_PULL_THROUGH_PREFIX.match(v)),
    )
    docker_hub_secret_name: str = rule(
        f"{PULL_THROUGH_SECRET_PREFIX}docker-hub",
        f"a Secrets Manager secret name starting with '{PULL_THROUGH_SECRET_PREFIX}' (ECR requires it)",
        lambda v: v.startswith(PULL_THROUGH_SECRET_PREFIX) and bool(_SECRET_NAME.match(v)),
    )


@dataclass(frozen=True)
class AgentSettings:
    """The Strands agent's settings, passed to the function as its environment (docs/agent-api.md).

    Each key but ``session_ttl_days`` (which sizes the sessions bucket's lifecycle) and ``tool_policy_arns``
    (which the function's role gets) is a row of the agent API's settings table
    (lambda/agent_api/contract.py): its default, rule and variable are the table's, so whatever synth accepts,
    the function accepts too.
    """

    response_format: str = table_setting(contract.AGENT_RESPONSE_FORMAT)
    system_prompt: str = table_setting(contract.AGENT_SYSTEM_PROMPT)
    max_tokens: int = table_setting(contract.AGENT_MAX_TOKENS)
    temperature: float = table_setting(contract.AGENT_TEMPERATURE)
    tools: str = table_setting(contract.AGENT_TOOLS)
    mcp_servers: Sequence[Any] = table_setting(contract.AGENT_MCP_SERVERS)
    max_prompt_chars: int = table_setting(contract.AGENT_MAX_PROMPT_CHARS)
    stream_reasoning: bool = table_setting(contract.AGENT_STREAM_REASONING)
    session_ttl_days: int = rule(
        30, "an integer >= 1 (days before a stored session expires)", lambda v: v >= 1
    )
    # What the team's Python tools call on AWS (docs/tools.md): policies the team writes and reviews itself.
    tool_policy_arns: str = rule(
        "",
        "comma-separated ARNs of customer managed IAM policies (arn:aws:iam::<account>:policy/<name>) for "
        "what the team's Python tools call; an AWS managed policy (arn:aws:iam::aws:policy/...) is refused: "
        "it grants far more than a tool needs; '' for none",
        lambda v: all(IAM_POLICY_ARN.fullmatch(arn) for arn in split_list(v)),
    )
    log_level: str = table_setting(contract.POWERTOOLS_LOG_LEVEL)
    metrics_namespace: str = table_setting(contract.POWERTOOLS_METRICS_NAMESPACE)


@dataclass(frozen=True)
class LambdaSettings:
    """The agent Lambda function's size, architecture and Lambda Web Adapter layer version."""

    memory_mb: int = rule(1024, "128..10240", lambda v: 128 <= v <= 10240)
    timeout_seconds: int = rule(
        LAMBDA_MAX_TIMEOUT_SECONDS,
        f"{contract.MIN_LAMBDA_TIMEOUT_SECONDS}..{LAMBDA_MAX_TIMEOUT_SECONDS} (at least one full model read)",
        lambda v: contract.MIN_LAMBDA_TIMEOUT_SECONDS <= v <= LAMBDA_MAX_TIMEOUT_SECONDS,
    )
    architecture: str = rule("arm64", "'arm64' or 'x86_64'", lambda v: v in ("arm64", "x86_64"))
    web_adapter_layer_version: int = rule(
        30,
        f"a published LambdaAdapterLayer version >= {MIN_WEB_ADAPTER_LAYER_VERSION} (older layers pass a "
        "client's own x-amzn-request-context header on ahead of API Gateway's, so callers could pose as "
        "other session owners)",
        lambda v: v >= MIN_WEB_ADAPTER_LAYER_VERSION,
    )
    # Each /chat stream holds one execution for its whole answer: the cap keeps a runaway client from taking
    # the account's concurrency from its other functions (EnvironmentConfig.function_concurrency).
    reserved_concurrency: int | None = rule(
        None,
        f"an integer >= 1, or null for {FUNCTION_CONCURRENCY_PER_REQUEST} x the requests the endpoint serves "
        "at once (target_concurrent_requests x max_instances or max_copies)",
        lambda v: v >= 1,
    )


def split_list(value: str) -> tuple[str, ...]:
    """Return the entries of a comma-separated list, trimmed, without empty entries or repeats."""
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _is_redirect_url(url: str) -> bool:
    """Whether Cognito takes ``url`` as a callback or sign-out URL: absolute, no fragment, https or local."""
    if "#" in url or any(character.isspace() for character in url):
        return False
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number in 0..65535)
    except ValueError:
        return False
    if parts.scheme == "http":
        return parts.hostname in _LOCAL_HOSTS
    return parts.scheme == "https" and bool(parts.hostname)


_REDIRECT_URLS = (
    "comma-separated absolute URLs without a fragment, https:// (http:// only for localhost, 127.0.0.1 "
    "and [::1]); '' for the API's own chat page"
)


@dataclass(frozen=True)
class ApiSettings:
    """API Gateway stage throttling and how callers authenticate (docs/deploy.md, "Authentication")."""

    rate_limit: float = rule(10.0, "a number > 0 (requests per second)", lambda v: v > 0)
    burst_limit: int = rule(20, "an integer >= 1", lambda v: v >= 1)
    # API Gateway writes stage logs (execution and access) with one role per account and region, set once
    # outside every environment (docs/deploy.md); a stage asking for logs before it is set fails to create.
    stage_logs: bool = rule(
        False,
        "true once the account's API Gateway CloudWatch Logs role is set in the region (docs/deploy.md, "
        "checked by make preflight)",
    )
    auth: str = rule(
        "iam",
        "'iam' (SigV4-signed requests) or 'cognito' (Cognito user pool access tokens)",
        lambda v: v in AUTH_MODES,
    )
    # Cognito prefix domains are unique per region across all AWS accounts: the default names the stack and
    # the account (EnvironmentConfig.stack_name, stacks/agent_api/sign_in.py).
    auth_domain_prefix: str | None = rule(
        None,
        "1-63 lower-case letters, digits and '-', not starting or ending with '-', unique in the region",
        lambda v: bool(_DOMAIN_PREFIX.match(v)),
    )
    auth_callback_urls: str = rule(
        "", _REDIRECT_URLS, lambda v: all(_is_redirect_url(url) for url in split_list(v))
    )
    auth_logout_urls: str = rule(
        "", _REDIRECT_URLS, lambda v: all(_is_redirect_url(url) for url in split_list(v))
    )


@dataclass(frozen=True)
class MonitoringSettings:
    """Log retention, alarm thresholds, and who the alarms notify (docs/deploy.md, "Alarms")."""

    log_retention_days: int = rule(
        30, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}", lambda v: v in LOG_RETENTION_DAYS
    )
    alarm_email: str | None = rule(
        None,
        "an e-mail address (subscribed to the stack's alarm topic)",
        lambda v: bool(re.match(r"^[^@\s]+@[^@\s]+\.\w+$", v)),
    )
    alarm_topic_arn: str | None = rule(
        None,
        "the ARN of an existing SNS topic in the environment's region, arn:<partition>:sns:<region>:"
        "<account>:<name> (the alarms notify it instead of a topic of the stack)",
        lambda v: bool(SNS_TOPIC_ARN.fullmatch(v)),
    )
    model_latency_p90_seconds: int = rule(120, "an integer >= 1", lambda v: v >= 1)


@dataclass(frozen=True)
class ObservabilitySettings:
    """Where the agent's traces go (docs/agent-api.md, "Traces"): rows of the agent API's settings table."""

    traces: str = table_setting(contract.AGENT_TRACES)
    capture_content: bool = table_setting(contract.AGENT_CAPTURE_CONTENT)
    otlp_endpoint: str | None = table_setting(contract.AGENT_OTLP_ENDPOINT)
    otlp_headers_secret: str | None = table_setting(contract.AGENT_OTLP_HEADERS_SECRET)
