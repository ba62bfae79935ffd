"""Deployment environments as data: the ``environments`` block of ``cdk.json`` parsed into validated settings.

Each environment is a JSON object of sections (``model``, ``endpoint``, ``agent``, ``lambda``, ``api``,
``monitoring``) plus ``account``/``region``/``retain_data``. Every key is optional and defaults to the value
declared on the dataclasses below. Anything unknown, mistyped or impossible raises :class:`ConfigError`, whose
message names the environment, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from stacks.agent_api.lambda_contract import contract
from stacks.inference.serving_contract import serving
from stacks.instance_types import GPU_COUNT, MEMORY_GIB

DEFAULT_ENVIRONMENT = "dev"
ALL_ENVIRONMENTS = "all"

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
# How the endpoint hosts the model (docs/deploy.md, "Endpoint modes").
SINGLE_MODEL = "single-model"
INFERENCE_COMPONENT = "inference-component"
ENDPOINT_MODES = (SINGLE_MODEL, INFERENCE_COMPONENT)
# The settings only one mode reads; setting one in the other mode is refused rather than ignored.
_MODE_KEYS = {
    SINGLE_MODEL: ("min_instances", "max_instances"),
    INFERENCE_COMPONENT: ("min_copies", "max_copies", "scale_to_zero_idle_minutes"),
}
# The idle time before scale-in to zero: at least API Gateway's 15-minute integration limit, the longest a
# request can wait for the copy it woke, so that copy is never removed before that request could use it
# (a refused request restarts the idle time). At most one day: the idle alarm evaluates one-minute periods
# and CloudWatch evaluates at most a day of them (PutMetricAlarm, EvaluationPeriods * Period <= 86400).
_IDLE_MINUTES_MIN, _IDLE_MINUTES_MAX = 15, 1440
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+/)?$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
# How callers of a deployed agent API authenticate: SigV4 with IAM credentials, or Cognito user pool tokens
# (the agent API's own `none` is the local stack's, which API Gateway never fronts).
AUTH_MODES = (contract.AUTH_IAM, contract.AUTH_COGNITO)
# A Cognito prefix domain (botocore's cognito-idp DomainType; the managed login lives at
# https://<prefix>.auth.<region>.amazoncognito.com).
_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")
# Cognito accepts plain http only for these hosts, "for testing purposes only" (botocore's cognito-idp
# CreateUserPoolClient CallbackURLs); every other callback or sign-out URL must be https.
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def instances_for(copies: int, copies_per_instance: int) -> int:
    """Instances that hold ``copies`` copies of an inference component (rounded up)."""
    return -(-copies // copies_per_instance)


class ConfigError(ValueError):
    """Invalid environment settings; the message names the environment, the key and what is allowed."""

    def __init__(self, environment: str, key: str, problem: str) -> None:
        super().__init__(f"cdk.json environment {environment!r}: {key}: {problem}")
        self.environment = environment
        self.key = key


def _rule(default: Any, allowed: str, check: Callable[[Any], bool] = lambda _: True) -> Any:
    """Declare a setting with its default, a description of allowed values and a value check."""
    return field(default=default, metadata={"allowed": allowed, "check": check})


def _bounded(bounds: contract.Bounded[Any]) -> Any:
    """Declare a numeric setting of the agent API with the contract's default and bounds."""
    return _rule(bounds.default, bounds.range, bounds.allows)


@dataclass(frozen=True)
class ModelSettings:
    """What the serving container runs (its SERVE_* settings, docs/container.md): engine, weights, flags."""

    engine: str = _rule("sglang", "'sglang' or 'vllm'", lambda v: v in ("sglang", "vllm"))
    hf_model_id: str | None = _rule(None, "a Hugging Face model id like 'org/name'", lambda v: "/" in v)
    hf_token_secret_name: str | None = _rule(
        None, "a Secrets Manager secret name", lambda v: bool(_SECRET_NAME.match(v))
    )
    s3_uri: str | None = _rule(
        None,
        "an S3 prefix of uncompressed weights ending in '/', like 's3://bucket/llama/'",
        lambda v: bool(_S3_PREFIX.match(v)),
    )
    tp_degree: int | None = _rule(
        None, "a positive integer dividing the instance's GPU count", lambda v: v >= 1
    )
    max_model_len: int | None = _rule(None, "a positive integer (tokens)", lambda v: v >= 1)
    # The model family: the tool-call and reasoning parsers each engine runs it with (docs/container.md).
    profile: str = _rule(
        serving.DEFAULT_PROFILE, f"one of {', '.join(serving.PROFILES)}", lambda v: v in serving.PROFILES
    )
    # Overrides of the profile's parsers; names the engine has, or 'none' (checked against the engine below).
    tool_call_parser: str | None = _rule(None, "the engine's tool-call parser name, or 'none'")
    reasoning_parser: str | None = _rule(None, "the engine's reasoning parser name, or 'none'")
    extra_args: str = _rule("", "extra engine flags as one string")


@dataclass(frozen=True)
class EndpointSettings:
    """The SageMaker real-time endpoint: hosting mode, instance type, scaling bounds and start-up limits.

    ``single-model`` runs the model on the endpoint's variant and scales instances (``min_instances``..
    ``max_instances``, at least one). ``inference-component`` runs it as an inference component whose
    copies scale (``min_copies``..``max_copies``, 0 allowed); SageMaker adds and removes their instances.
    """

    mode: str = _rule(
        SINGLE_MODEL, " or ".join(repr(m) for m in ENDPOINT_MODES), lambda v: v in ENDPOINT_MODES
    )
    instance_type: str = _rule(
        "ml.g6.12xlarge", f"a GPU ml.* instance type: {', '.join(GPU_COUNT)}", lambda v: v in GPU_COUNT
    )
    min_instances: int = _rule(1, "an integer >= 1 (single-model mode)", lambda v: v >= 1)
    max_instances: int = _rule(1, "an integer >= min_instances (single-model mode)", lambda v: v >= 1)
    min_copies: int = _rule(
        0,
        "an integer >= 0 (inference-component mode; 0 scales the endpoint to zero when idle)",
        lambda v: v >= 0,
    )
    max_copies: int = _rule(
        1, "an integer >= 1 and >= min_copies (inference-component mode)", lambda v: v >= 1
    )
    scale_to_zero_idle_minutes: int = _rule(
        30,
        f"{_IDLE_MINUTES_MIN}..{_IDLE_MINUTES_MAX} (inference-component mode with min_copies 0: minutes "
        "without a request before the last copy is removed)",
        lambda v: _IDLE_MINUTES_MIN <= v <= _IDLE_MINUTES_MAX,
    )
    startup_health_check_timeout_seconds: int = _rule(1800, "60..3600", lambda v: 60 <= v <= 3600)
    model_download_timeout_seconds: int = _rule(1800, "60..3600", lambda v: 60 <= v <= 3600)
    inference_ami_version: str = _rule(
        INFERENCE_AMI_VERSIONS[0],
        f"one of {', '.join(INFERENCE_AMI_VERSIONS)}",
        lambda v: v in INFERENCE_AMI_VERSIONS,
    )
    target_concurrent_requests: int = _rule(
        8,
        "an integer >= 1 (in-flight requests per instance, or per copy in inference-component mode)",
        lambda v: v >= 1,
    )

    @property
    def inference_component(self) -> bool:
        """Whether the model runs as an inference component (copies scale, down to zero if allowed)."""
        return self.mode == INFERENCE_COMPONENT


BASE_IMAGE_SOURCES = ("ecr-pull-through", "docker-hub")
PULL_THROUGH_SECRET_PREFIX = "ecr-pullthroughcache/"  # noqa: S105 (a name prefix ECR requires)
# ECR's CreatePullThroughCacheRule ecrRepositoryPrefix (botocore's ECR model): 2-30 characters.
_PULL_THROUGH_PREFIX = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
_PULL_THROUGH_PREFIX_MAX = 30


@dataclass(frozen=True)
class ImageSettings:
    """Where the image build pulls the engines' base images from (docs/container.md, "Base images")."""

    base_images: str = _rule(
        "ecr-pull-through",
        "'ecr-pull-through' (an ECR pull-through cache of Docker Hub, authenticated) or 'docker-hub' "
        "(anonymous pulls, rate-limited per IP)",
        lambda v: v in BASE_IMAGE_SOURCES,
    )
    pull_through_prefix: str | None = _rule(
        None,
        f"an ECR repository prefix of 2-{_PULL_THROUGH_PREFIX_MAX} lower-case letters, digits and . _ -, "
        "unique per account and region (default '<environment>-docker-hub')",
        lambda v: 2 <= len(v) <= _PULL_THROUGH_PREFIX_MAX and bool(_PULL_THROUGH_PREFIX.match(v)),
    )
    docker_hub_secret_name: str = _rule(
        f"{PULL_THROUGH_SECRET_PREFIX}docker-hub",
        f"a Secrets Manager secret name starting with '{PULL_THROUGH_SECRET_PREFIX}' (ECR requires it)",
        lambda v: v.startswith(PULL_THROUGH_SECRET_PREFIX) and bool(_SECRET_NAME.match(v)),
    )


@dataclass(frozen=True)
class AgentSettings:
    """The Strands agent's settings, passed to the function as its environment (docs/agent-api.md).

    Defaults and rules are the agent API's own (lambda/agent_api/contract.py), so whatever synth accepts,
    the function accepts too.
    """

    response_format: str = _rule(
        contract.RESPONSE_FORMAT_DEFAULT,
        "a provider format name like 'auto' or 'openai-chat' (a-z 0-9 _ -, at most 64)",
        lambda v: bool(contract.RESPONSE_FORMAT_PATTERN.fullmatch(v)),
    )
    system_prompt: str = _rule(
        contract.DEFAULT_SYSTEM_PROMPT, "a non-blank string", lambda v: bool(v.strip())
    )
    max_tokens: int = _bounded(contract.MAX_TOKENS)
    temperature: float = _bounded(contract.TEMPERATURE)
    tools: str = _rule(
        ",".join(contract.DEFAULT_TOOLS),
        f"comma-separated names of {', '.join(contract.TOOL_NAMES)}, or '' for none",
        lambda v: not contract.unknown_tools(v),
    )
    max_prompt_chars: int = _bounded(contract.MAX_PROMPT_CHARS)
    stream_reasoning: bool = _rule(
        contract.STREAM_REASONING_DEFAULT,
        "true or false (stream the model's reasoning as `reasoning` events)",
    )
    session_ttl_days: int = _rule(
        30, "an integer >= 1 (days before a stored session expires)", lambda v: v >= 1
    )
    log_level: str = _rule(
        contract.LOG_LEVEL_DEFAULT, ", ".join(contract.LOG_LEVELS), lambda v: v in contract.LOG_LEVELS
    )
    metrics_namespace: str = _rule(
        contract.METRICS_NAMESPACE,
        contract.METRICS_NAMESPACE_RULE,
        lambda v: bool(contract.METRICS_NAMESPACE_PATTERN.fullmatch(v)),
    )


@dataclass(frozen=True)
class LambdaSettings:
    """The agent Lambda function's size, architecture and Lambda Web Adapter layer version."""

    memory_mb: int = _rule(1024, "128..10240", lambda v: 128 <= v <= 10240)
    timeout_seconds: int = _rule(
        LAMBDA_MAX_TIMEOUT_SECONDS,
        f"{contract.MIN_LAMBDA_TIMEOUT_SECONDS}..{LAMBDA_MAX_TIMEOUT_SECONDS} (at least one full model read)",
        lambda v: contract.MIN_LAMBDA_TIMEOUT_SECONDS <= v <= LAMBDA_MAX_TIMEOUT_SECONDS,
    )
    architecture: str = _rule("arm64", "'arm64' or 'x86_64'", lambda v: v in ("arm64", "x86_64"))
    web_adapter_layer_version: int = _rule(
        30, "a published LambdaAdapterLayer version >= 1", lambda v: v >= 1
    )


def split_urls(value: str) -> tuple[str, ...]:
    """Return the URLs of a comma-separated list, trimmed, without empty entries or repeats."""
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

    rate_limit: float = _rule(10.0, "a number > 0 (requests per second)", lambda v: v > 0)
    burst_limit: int = _rule(20, "an integer >= 1", lambda v: v >= 1)
    # API Gateway writes stage logs (execution and access) with one role per account and region, set once
    # outside every environment (docs/deploy.md); a stage asking for logs before it is set fails to create.
    stage_logs: bool = _rule(
        False,
        "true once the account's API Gateway CloudWatch Logs role is set in the region (docs/deploy.md, "
        "checked by make preflight)",
    )
    auth: str = _rule(
        "iam",
        "'iam' (SigV4-signed requests) or 'cognito' (Cognito user pool access tokens)",
        lambda v: v in AUTH_MODES,
    )
    # Cognito prefix domains are unique per region across all AWS accounts: the default names the stack and
    # the account (EnvironmentConfig.stack_name, stacks/agent_api/sign_in.py).
    auth_domain_prefix: str | None = _rule(
        None,
        "1-63 lower-case letters, digits and '-', not starting or ending with '-', unique in the region",
        lambda v: bool(_DOMAIN_PREFIX.match(v)),
    )
    auth_callback_urls: str = _rule(
        "", _REDIRECT_URLS, lambda v: all(_is_redirect_url(url) for url in split_urls(v))
    )
    auth_logout_urls: str = _rule(
        "", _REDIRECT_URLS, lambda v: all(_is_redirect_url(url) for url in split_urls(v))
    )


@dataclass(frozen=True)
class MonitoringSettings:
    """Log retention and alarm thresholds."""

    log_retention_days: int = _rule(
        30, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}", lambda v: v in LOG_RETENTION_DAYS
    )
    alarm_email: str | None = _rule(
        None, "an e-mail address", lambda v: bool(re.match(r"^[^@\s]+@[^@\s]+\.\w+$", v))
    )
    model_latency_p90_seconds: int = _rule(120, "an integer >= 1", lambda v: v >= 1)


@dataclass(frozen=True)
class EnvironmentConfig:
    """One deployment environment: where it goes and every setting of its stack."""

    name: str
    account: str | None = _rule(None, "a 12-digit AWS account id", lambda v: bool(_ACCOUNT.match(v)))
    region: str | None = _rule(
        None, "an AWS region like 'us-east-1'", lambda v: bool(contract.REGION_PATTERN.fullmatch(v))
    )
    retain_data: bool = _rule(False, "true or false (keep the ECR repository, sessions and logs on delete)")
    model: ModelSettings = field(default_factory=ModelSettings)
    image: ImageSettings = field(default_factory=ImageSettings)
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    lambda_: LambdaSettings = field(default_factory=LambdaSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)

    @property
    def gpu_count(self) -> int:
        """GPUs per instance of the endpoint's instance type."""
        return GPU_COUNT[self.endpoint.instance_type]

    @property
    def tp_degree(self) -> int:
        """Tensor-parallel degree: the configured one, else every GPU of the instance."""
        return self.model.tp_degree or self.gpu_count

    @property
    def copies_per_instance(self) -> int:
        """Copies of the model one instance holds: each copy takes ``tp_degree`` of the instance's GPUs."""
        return self.gpu_count // self.tp_degree

    @property
    def copy_memory_mb(self) -> int:
        """Host memory one copy reserves (MinMemoryRequiredInMb): half its GPUs' share of the instance's.

        SageMaker places a copy only on an instance with this much memory free, and its own agents and the
        container runtime use some of every instance's memory, so a copy never asks for its full share.
        """
        share_gib = MEMORY_GIB[self.endpoint.instance_type] * self.tp_degree / self.gpu_count
        return int(share_gib * 1024) // 2

    @property
    def max_ic_instances(self) -> int:
        """Instances managed instance scaling may run: enough for ``max_copies`` copies."""
        return instances_for(self.endpoint.max_copies, self.copies_per_instance)

    @property
    def inference_component_name(self) -> str | None:
        """The inference component's name (inference-component mode), derived from the endpoint's.

        It names the instance type through the endpoint's name, so a new instance type, which replaces the
        endpoint, creates the component under a new name instead of colliding with the old one.
        """
        return f"{self.endpoint_name}-model" if self.endpoint.inference_component else None

    @property
    def stack_name(self) -> str:
        """CloudFormation stack name of this environment."""
        return f"SageMakerAgent-{self.name}"

    @property
    def pull_through_prefix(self) -> str:
        """The ECR pull-through cache rule's repository prefix (``image.base_images: ecr-pull-through``)."""
        return self.image.pull_through_prefix or f"{self.name.lower()}-docker-hub"

    @property
    def endpoint_name(self) -> str:
        """The SageMaker endpoint's name, which names its instance type (at most 63 characters).

        Application Auto Scaling refuses an endpoint update that changes the instance type of a registered
        variant (SageMaker guide, "Update endpoints that use auto scaling"). A new name makes CloudFormation
        create a new endpoint instead (EndpointName: "Update requires: Replacement"), register the scalable
        target on it, and only then delete the old target and endpoint.
        """
        return f"{self.stack_name}-{self.endpoint.instance_type.removeprefix('ml.').replace('.', '-')}"


_SECTIONS: dict[str, tuple[str, type[Any]]] = {
    "model": ("model", ModelSettings),
    "image": ("image", ImageSettings),
    "endpoint": ("endpoint", EndpointSettings),
    "agent": ("agent", AgentSettings),
    "lambda": ("lambda_", LambdaSettings),
    "api": ("api", ApiSettings),
    "monitoring": ("monitoring", MonitoringSettings),
}
_T = TypeVar("_T")


def _type_name(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return " or ".join("null" if option is type(None) else names[option] for option in options)


def _has_type(value: Any, annotation: Any) -> bool:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return True
        # JSON has one number type; bool is an int subclass in Python but never a number in cdk.json.
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option in (str, bool) and isinstance(value, option):
            return True
    return False


def _parse_fields(environment: str, prefix: str, raw: Mapping[str, Any], cls: type[_T], **extra: Any) -> _T:
    """Build ``cls`` from ``raw``, checking every key against the dataclass's declared type and rule."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    declared = {f.name: f for f in fields if "allowed" in f.metadata}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            known = sorted(declared) if prefix else sorted([*declared, *_SECTIONS])
            raise ConfigError(environment, f"{prefix}{key}", f"unknown key; allowed keys: {', '.join(known)}")
        spec = declared[key]
        if not _has_type(value, hints[key]):
            raise ConfigError(
                environment, f"{prefix}{key}", f"got {value!r}; expected {_type_name(hints[key])}"
            )
        if value is not None and not spec.metadata["check"](value):
            raise ConfigError(
                environment, f"{prefix}{key}", f"got {value!r}; allowed: {spec.metadata['allowed']}"
            )
        values[key] = value
    return cls(**values, **extra)


def parse_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Parse and validate one environment's JSON object from ``cdk.json``."""
    if not _ENV_NAME.match(name):
        raise ConfigError(
            name, "(name)", "environment names are 1-32 letters, digits or '-', starting with a letter"
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(name, "(environment)", f"got {raw!r}; expected a JSON object of settings")
    sections: dict[str, Any] = {}
    top_level = {k: v for k, v in raw.items() if k not in _SECTIONS}
    for key, (attribute, cls) in _SECTIONS.items():
        section = raw.get(key, {})
        if not isinstance(section, Mapping):
            raise ConfigError(name, key, f"got {section!r}; expected a JSON object")
        sections[attribute] = _parse_fields(name, f"{key}.", section, cls)
    config = _parse_fields(name, "", top_level, EnvironmentConfig, name=name, **sections)
    _check_mode_keys(config, raw.get("endpoint", {}))
    _check_cross_field_rules(config)
    return config


def _check_mode_keys(config: EnvironmentConfig, endpoint: Mapping[str, Any]) -> None:
    """Refuse a setting of the other endpoint mode: it would be silently ignored."""
    for mode, keys in _MODE_KEYS.items():
        if mode == config.endpoint.mode:
            continue
        for key in keys:
            if key in endpoint:
                raise ConfigError(
                    config.name,
                    f"endpoint.{key}",
                    f"only read in endpoint.mode {mode!r}; this environment's mode is "
                    f"{config.endpoint.mode!r}",
                )


def _check_cross_field_rules(config: EnvironmentConfig) -> None:
    model, endpoint = config.model, config.endpoint
    for key, kind, value in (
        ("model.tool_call_parser", "tool-call", model.tool_call_parser),
        ("model.reasoning_parser", "reasoning", model.reasoning_parser),
    ):
        problem = None if value is None else serving.parser_problem(kind, model.engine, value)
        if problem is not None:
            raise ConfigError(config.name, key, problem)
    if (model.hf_model_id is None) == (model.s3_uri is None):
        raise ConfigError(
            config.name,
            "model.hf_model_id / model.s3_uri",
            "set exactly one model source: a Hugging Face id or an S3 prefix",
        )
    if model.hf_token_secret_name is not None and model.hf_model_id is None:
        raise ConfigError(config.name, "model.hf_token_secret_name", "only allowed with model.hf_model_id")
    if config.gpu_count % config.tp_degree:
        raise ConfigError(
            config.name,
            "model.tp_degree",
            f"got {config.tp_degree}; allowed: a divisor of {config.gpu_count}, "
            f"the GPU count of {endpoint.instance_type}",
        )
    if (
        config.image.base_images == "ecr-pull-through"
        and len(config.pull_through_prefix) > _PULL_THROUGH_PREFIX_MAX
    ):
        raise ConfigError(
            config.name,
            "image.pull_through_prefix",
            f"the default {config.pull_through_prefix!r} is longer than ECR's {_PULL_THROUGH_PREFIX_MAX} "
            "characters; set a shorter prefix",
        )
    if config.api.auth != "cognito":
        for key in ("auth_domain_prefix", "auth_callback_urls", "auth_logout_urls"):
            if getattr(config.api, key) != getattr(ApiSettings, key):
                raise ConfigError(config.name, f"api.{key}", "only allowed with api.auth 'cognito'")
    if endpoint.min_instances > endpoint.max_instances:
        raise ConfigError(
            config.name,
            "endpoint.min_instances",
            f"got {endpoint.min_instances}; allowed: at most "
            f"endpoint.max_instances ({endpoint.max_instances})",
        )
    if endpoint.inference_component:
        _check_inference_component_rules(config)


def _check_inference_component_rules(config: EnvironmentConfig) -> None:
    endpoint = config.endpoint
    if endpoint.min_copies > endpoint.max_copies:
        raise ConfigError(
            config.name,
            "endpoint.min_copies",
            f"got {endpoint.min_copies}; allowed: at most endpoint.max_copies ({endpoint.max_copies})",
        )
    # A production environment (one that keeps its data) must answer at once: at zero copies every request
    # is refused until a copy has started, which takes minutes (docs/deploy.md, "Scale to zero").
    if config.retain_data and endpoint.min_copies == 0:
        raise ConfigError(
            config.name,
            "endpoint.min_copies",
            "got 0; allowed: at least 1 in an environment with retain_data true (a production environment "
            "keeps a copy in service; scale to zero is for environments that do not retain data)",
        )
    # A request finding no copy waits for one inside the function (docs/agent-api.md, "Scaled to zero"): a
    # shorter timeout would end it with Lambda's own error instead of the answer or `model_warming`.
    timeout = config.lambda_.timeout_seconds
    if endpoint.min_copies == 0 and timeout < contract.MIN_LAMBDA_TIMEOUT_SCALE_TO_ZERO_SECONDS:
        raise ConfigError(
            config.name,
            "lambda.timeout_seconds",
            f"got {timeout}; allowed: at least {contract.MIN_LAMBDA_TIMEOUT_SCALE_TO_ZERO_SECONDS} with "
            f"endpoint.min_copies 0 (a request may wait {contract.WARMING_BUDGET_SECONDS} s for a copy, "
            "then needs time for its answer)",
        )


def select_environments(environments: Any, selection: str) -> list[EnvironmentConfig]:
    """Return the environments chosen by ``-c env=NAME`` (``all`` selects every one), each validated."""
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            selection, "environments", "cdk.json context needs a non-empty 'environments' object"
        )
    if selection == ALL_ENVIRONMENTS:
        configs = [parse_environment(name, raw) for name, raw in environments.items()]
        _check_shared_account_settings(configs)
        return configs
    if selection not in environments:
        allowed = ", ".join([*environments, ALL_ENVIRONMENTS])
        raise ConfigError(selection, "env", f"no such environment in cdk.json; allowed: {allowed}")
    return [parse_environment(selection, environments[selection])]


def _check_shared_account_settings(configs: list[EnvironmentConfig]) -> None:
    """Refuse two environments that would create the same account-wide resource in one account and region.

    An ECR pull-through cache rule is one per prefix and registry: the second stack creating it fails, and
    deleting either stack would delete the other's rule. Environments without ``account``/``region`` deploy
    wherever the CLI points, so they count as sharing one.
    """
    owners: dict[tuple[str | None, str | None, str], str] = {}
    for config in configs:
        if config.image.base_images != "ecr-pull-through":
            continue
        place = (config.account, config.region, config.pull_through_prefix)
        other = owners.setdefault(place, config.name)
        if other != config.name:
            raise ConfigError(
                config.name,
                "image.pull_through_prefix",
                f"{config.pull_through_prefix!r} is also environment {other!r}'s in the same account and "
                "region; give each environment its own prefix",
            )
