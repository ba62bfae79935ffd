"""The rules that involve more than one key of an environment, or more than one environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stacks.agent_api.lambda_contract import contract, fallback_settings
from stacks.config.environment import EnvironmentConfig
from stacks.config.schema import (
    INFERENCE_COMPONENT,
    PULL_THROUGH_PREFIX_MAX,
    SINGLE_MODEL,
    SNS_TOPIC_ARN,
    ApiSettings,
    ConfigError,
)
from stacks.config.tool_sources import check_tool_sources
from stacks.inference.serving_contract import serving

# The settings only one mode reads; setting one in the other mode is refused rather than ignored.
_MODE_KEYS = {
    SINGLE_MODEL: ("min_instances", "max_instances"),
    INFERENCE_COMPONENT: ("min_copies", "max_copies"),
}


def check_mode_keys(config: EnvironmentConfig, endpoint: Mapping[str, Any]) -> None:
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


def check_cross_field_rules(config: EnvironmentConfig) -> None:
    """Refuse combinations of keys that cannot work together, naming the key to change."""
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
        and len(config.pull_through_prefix) > PULL_THROUGH_PREFIX_MAX
    ):
        raise ConfigError(
            config.name,
            "image.pull_through_prefix",
            f"the default {config.pull_through_prefix!r} is longer than ECR's {PULL_THROUGH_PREFIX_MAX} "
            "characters; set a shorter prefix",
        )
    if config.api.auth != "cognito":
        for key in ("auth_domain_prefix", "auth_callback_urls", "auth_logout_urls"):
            if getattr(config.api, key) != getattr(ApiSettings, key):
                raise ConfigError(config.name, f"api.{key}", "only allowed with api.auth 'cognito'")
    _check_alarm_destination(config)
    if endpoint.min_instances > endpoint.max_instances:
        raise ConfigError(
            config.name,
            "endpoint.min_instances",
            f"got {endpoint.min_instances}; allowed: at most "
            f"endpoint.max_instances ({endpoint.max_instances})",
        )
    if endpoint.inference_component:
        _check_inference_component_rules(config)
    check_tool_sources(config)
    _check_fallback_rules(config)
    _check_trace_rules(config)


def _check_fallback_rules(config: EnvironmentConfig) -> None:
    """Check the fallback's rules that involve other keys (agent_api.settings applies the same)."""
    endpoint = config.endpoint
    if endpoint.fallback is None:
        if endpoint.fallback_on_throttle:
            raise ConfigError(config.name, "endpoint.fallback_on_throttle", "only with endpoint.fallback")
        return
    fallback = contract.AGENT_FALLBACK.kind.read(contract.AGENT_FALLBACK.kind.encode(endpoint.fallback))
    if isinstance(fallback, fallback_settings.BedrockFallback):
        problem = fallback_settings.region_problem(fallback.model, config.region)
        if problem is not None:
            raise ConfigError(config.name, "endpoint.fallback", problem)
    elif fallback.endpoint_name == config.endpoint_name:
        raise ConfigError(
            config.name, "endpoint.fallback", "names this environment's own endpoint; a fallback is another"
        )


def _check_trace_rules(config: EnvironmentConfig) -> None:
    """Apply the agent API's own rule on the trace settings (the function applies it at start too)."""
    observability = config.observability
    for problem in contract.trace_problems(
        observability.traces, observability.otlp_endpoint is not None, "observability.otlp_endpoint"
    ):
        raise ConfigError(config.name, "observability.traces", problem)


def _check_alarm_destination(config: EnvironmentConfig) -> None:
    """Alarms go to the stack's own topic (with ``alarm_email`` subscribed) or to an existing one, not both.

    CloudWatch publishes an alarm's notification to a topic in the alarm's region (PutMetricAlarm
    AlarmActions: ``arn:aws:sns:region:account-id:sns-topic-name``).
    """
    monitoring = config.monitoring
    if monitoring.alarm_topic_arn is None:
        return
    if monitoring.alarm_email is not None:
        raise ConfigError(
            config.name,
            "monitoring.alarm_email / monitoring.alarm_topic_arn",
            "set one: alarm_email subscribes an address to the stack's own alarm topic; alarm_topic_arn "
            "sends the alarms to your topic, whose subscribers you manage",
        )
    match = SNS_TOPIC_ARN.fullmatch(monitoring.alarm_topic_arn)
    assert match is not None  # the schema's rule checked it
    if config.region is not None and match["region"] != config.region:
        raise ConfigError(
            config.name,
            "monitoring.alarm_topic_arn",
            f"the topic is in {match['region']}, the environment deploys to {config.region}; alarms notify "
            "topics of their own region only",
        )


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


def check_shared_account_settings(configs: list[EnvironmentConfig]) -> None:
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
