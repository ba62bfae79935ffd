"""Environment settings: each bad-value class fails naming the environment, the key and what is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import ConfigError, parse_environment, select_environments
from stacks.instance_types import GPU_COUNT, MEMORY_GIB
from tests.infra.infra_support import ROOT, cdk_context

pytestmark = pytest.mark.infra

HF = {"model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct"}}


def merged(**sections: dict[str, Any]) -> dict[str, Any]:
    """A valid environment (Hugging Face source) with ``sections`` merged over it."""
    raw: dict[str, Any] = {"model": dict(HF["model"])}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw


def error_for(raw: dict[str, Any], name: str = "staging") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_environment(name, raw)
    return caught.value


def test_cdk_json_environments_are_valid() -> None:
    configs = select_environments(cdk_context()["environments"], "all")
    assert [c.name for c in configs] == ["dev", "prod"]


def test_defaults_use_every_gpu_of_the_default_instance() -> None:
    config = parse_environment("dev", HF)
    assert (config.endpoint.instance_type, config.tp_degree) == ("ml.g6.12xlarge", 4)


def test_unknown_top_level_key_is_named_with_allowed_keys() -> None:
    error = error_for({**HF, "regoin": "us-east-1"})
    assert str(error).startswith("cdk.json environment 'staging': regoin: unknown key; allowed keys: account")
    assert "region" in str(error)


def test_unknown_section_key_is_named_with_its_section() -> None:
    error = error_for(merged(endpoint={"instance": "ml.g6.12xlarge"}))
    assert error.key == "endpoint.instance"
    assert "instance_type" in str(error)


def test_wrong_type_names_the_expected_type() -> None:
    error = error_for(merged(endpoint={"min_instances": "2"}))
    assert error.key == "endpoint.min_instances"
    assert "got '2'; expected an integer" in str(error)


def test_boolean_is_not_accepted_as_a_number() -> None:
    error = error_for(merged(api={"burst_limit": True}))
    assert "expected an integer" in str(error)


def test_section_must_be_an_object() -> None:
    error = error_for({**HF, "api": [1, 2]})
    assert (error.key, "expected a JSON object" in str(error)) == ("api", True)


def test_tp_degree_must_divide_the_gpu_count() -> None:
    error = error_for(merged(model={"tp_degree": 3}))
    assert str(error) == (
        "cdk.json environment 'staging': model.tp_degree: got 3; allowed: a divisor of 4, "
        "the GPU count of ml.g6.12xlarge"
    )


def test_tp_degree_larger_than_the_gpu_count_is_rejected() -> None:
    error = error_for(merged(model={"tp_degree": 2}, endpoint={"instance_type": "ml.g6.2xlarge"}))
    assert "a divisor of 1" in str(error)


def test_min_instances_above_max_is_rejected() -> None:
    error = error_for(merged(endpoint={"min_instances": 3, "max_instances": 2}))
    assert error.key == "endpoint.min_instances"
    assert "at most endpoint.max_instances (2)" in str(error)


@pytest.mark.parametrize("instance_type", ["ml.m5.xlarge", "g6.12xlarge", "ml.inf2.xlarge"])
def test_non_gpu_or_non_sagemaker_instance_type_is_rejected(instance_type: str) -> None:
    error = error_for(merged(endpoint={"instance_type": instance_type}))
    assert error.key == "endpoint.instance_type"
    assert "allowed: a GPU ml.* instance type: " in str(error)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("model", "engine", "tgi"),
        ("endpoint", "startup_health_check_timeout_seconds", 30),
        ("endpoint", "inference_ami_version", "al2-ami-sagemaker-inference-neuron-2"),
        ("lambda", "architecture", "arm"),
        ("lambda", "timeout_seconds", 901),
        ("lambda", "timeout_seconds", 59),
        ("agent", "temperature", 2.5),
        ("agent", "max_tokens", 1_000_001),
        ("agent", "max_prompt_chars", 0),
        ("agent", "tools", "calculator,rm -rf"),
        ("agent", "metrics_namespace", "AWS/Agent"),
        ("agent", "log_level", "TRACE"),
        ("api", "rate_limit", 0),
        ("monitoring", "log_retention_days", 10),
        ("monitoring", "alarm_email", "ops-at-example.com"),
        ("model", "s3_uri", "s3://bucket/no-trailing-slash"),
    ],
)
def test_out_of_range_value_names_what_is_allowed(section: str, key: str, value: Any) -> None:
    raw = {**HF, section: {**HF.get(section, {}), key: value}}
    if section == "model" and key == "s3_uri":
        raw = {"model": {"s3_uri": value}}
    error = error_for(raw)
    assert error.key == f"{section}.{key}"
    assert f"got {value!r}; allowed: " in str(error)


@pytest.mark.parametrize(("version", "accepted"), [(1, False), (17, False), (18, True), (30, True)])
def test_web_adapter_layers_that_forward_a_clients_request_context_are_refused(
    version: int, accepted: bool
) -> None:
    raw = merged(**{"lambda": {"web_adapter_layer_version": version}})
    if accepted:
        assert parse_environment("staging", raw).lambda_.web_adapter_layer_version == version
        return
    error = error_for(raw)
    assert error.key == "lambda.web_adapter_layer_version"
    assert "version >= 18 (older layers pass a client's own x-amzn-request-context header on" in str(error)


def test_unknown_tool_fails_naming_the_available_tools() -> None:
    error = error_for(merged(agent={"tools": "calculator,shell"}))
    assert str(error) == (
        "cdk.json environment 'staging': agent.tools: got 'calculator,shell'; allowed: comma-separated names "
        "of current_time, calculator, get_weather, convert_units, or '' for none"
    )


def test_both_model_sources_are_rejected() -> None:
    error = error_for(merged(model={"s3_uri": "s3://weights/llama/"}))
    assert "set exactly one model source" in str(error)


def test_missing_model_source_is_rejected() -> None:
    error = error_for({})
    assert error.key == "model.hf_model_id / model.s3_uri"


def test_token_secret_requires_a_hugging_face_model() -> None:
    error = error_for({"model": {"s3_uri": "s3://weights/llama/", "hf_token_secret_name": "hf-token"}})
    assert error.key == "model.hf_token_secret_name"


def test_unknown_environment_selection_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"env: no such environment in cdk.json; allowed: dev, prod, all"):
        select_environments(cdk_context()["environments"], "staging")


def test_missing_environments_block_is_reported() -> None:
    with pytest.raises(ConfigError, match="needs a non-empty 'environments' object"):
        select_environments(None, "dev")


def test_invalid_environment_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match="environment names are"):
        parse_environment("prod_eu!", HF)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        (
            "model",
            {"tp_degree": 3},
            "model.tp_degree: got 3; allowed: a divisor of 4, the GPU count of ml.g6.12xlarge",
        ),
        ("agent", {"max_tokens": 0}, "agent.max_tokens: got 0; allowed: 1..1000000"),
    ],
)
def test_app_prints_one_line_error_instead_of_a_traceback(
    section: str, values: dict[str, Any], message: str
) -> None:
    context = {**cdk_context(), "env": "dev"}
    context["environments"] = {"dev": merged(**{section: values})}
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(f"error: cdk.json environment 'dev': {message}")


def test_base_images_must_be_a_known_source() -> None:
    error = error_for(merged(image={"base_images": "quay"}))
    assert error.key == "image.base_images"
    assert "'ecr-pull-through'" in str(error) and "'docker-hub'" in str(error)


def test_docker_hub_secret_must_have_the_name_ecr_requires() -> None:
    error = error_for(merged(image={"docker_hub_secret_name": "docker-hub"}))
    assert (error.key, "starting with 'ecr-pullthroughcache/'" in str(error)) == (
        "image.docker_hub_secret_name",
        True,
    )


def test_a_default_pull_through_prefix_longer_than_ecr_allows_asks_for_a_shorter_one() -> None:
    error = error_for(HF, name="a-very-long-environment-name")
    assert error.key == "image.pull_through_prefix"
    assert "'a-very-long-environment-name-docker-hub' is longer than ECR's 30 characters" in str(error)


def test_two_environments_in_one_account_and_region_may_not_share_a_pull_through_prefix() -> None:
    shared = merged(image={"pull_through_prefix": "docker-hub"})
    with pytest.raises(ConfigError) as caught:
        select_environments({"dev": shared, "prod": shared}, "all")
    assert (caught.value.environment, caught.value.key) == ("prod", "image.pull_through_prefix")
    assert "also environment 'dev''s in the same account and region" in str(caught.value)


def test_environments_in_different_accounts_may_share_a_pull_through_prefix() -> None:
    shared = merged(image={"pull_through_prefix": "docker-hub"})
    other_account = {**shared, "account": "210987654321"}
    assert len(select_environments({"dev": shared, "prod": other_account}, "all")) == 2


# --- Endpoint modes (issue 12) ------------------------------------------------------------------------------

IC = {"mode": "inference-component"}


def test_unknown_endpoint_mode_names_both_modes() -> None:
    error = error_for(merged(endpoint={"mode": "serverless"}))
    assert error.key == "endpoint.mode"
    assert "allowed: 'single-model' or 'inference-component'" in str(error)


def test_inference_component_mode_defaults_to_zero_to_one_copy() -> None:
    config = parse_environment("staging", merged(endpoint=IC))
    endpoint = config.endpoint
    assert (endpoint.min_copies, endpoint.max_copies) == (0, 1)
    assert config.inference_component_name == "SageMakerAgent-staging-g6-12xlarge-ic"


def test_the_idle_time_is_target_trackings_not_a_setting() -> None:
    # Scale-in to zero follows AWS's recipe (target tracking, docs/deploy.md "Scale to zero"), whose
    # scale-in time Application Auto Scaling sets; the old idle-alarm setting is refused, not ignored.
    error = error_for(merged(endpoint={**IC, "scale_to_zero_idle_minutes": 30}))
    assert error.key == "endpoint.scale_to_zero_idle_minutes"
    assert "unknown key" in str(error)


def test_single_model_mode_has_no_component() -> None:
    assert parse_environment("staging", merged()).inference_component_name is None


def test_scale_to_zero_needs_a_function_timeout_covering_the_warming_wait() -> None:
    short = merged(endpoint={**IC, "min_copies": 0}, **{"lambda": {"timeout_seconds": 659}})
    error = error_for(short)
    assert error.key == "lambda.timeout_seconds"
    assert "at least 660 with endpoint.min_copies 0" in str(error)
    kept = merged(endpoint={**IC, "min_copies": 1}, **{"lambda": {"timeout_seconds": 60}})
    assert parse_environment("staging", kept).lambda_.timeout_seconds == 60


def test_min_copies_above_max_copies_is_rejected() -> None:
    error = error_for(merged(endpoint={**IC, "min_copies": 3, "max_copies": 2}))
    assert error.key == "endpoint.min_copies"
    assert "at most endpoint.max_copies (2)" in str(error)


def test_an_environment_that_retains_data_must_keep_a_copy() -> None:
    raw = {**merged(endpoint={**IC, "min_copies": 0}), "retain_data": True}
    error = error_for(raw)
    assert error.key == "endpoint.min_copies"
    assert "at least 1 in an environment with retain_data true" in str(error)
    kept = {**merged(endpoint={**IC, "min_copies": 1}), "retain_data": True}
    assert parse_environment("staging", kept).endpoint.min_copies == 1


@pytest.mark.parametrize(
    ("endpoint", "key"),
    [
        ({**IC, "min_instances": 2}, "endpoint.min_instances"),
        ({**IC, "max_instances": 2}, "endpoint.max_instances"),
        ({"min_copies": 1}, "endpoint.min_copies"),
        ({"mode": "single-model", "max_copies": 2}, "endpoint.max_copies"),
    ],
)
def test_a_setting_of_the_other_mode_is_refused_not_ignored(endpoint: dict[str, Any], key: str) -> None:
    error = error_for(merged(endpoint=endpoint))
    assert error.key == key
    assert "only read in endpoint.mode" in str(error)


def test_every_accepted_instance_type_has_its_memory() -> None:
    assert set(MEMORY_GIB) == set(GPU_COUNT)


def test_copies_share_an_instance_by_tensor_parallel_degree() -> None:
    raw = merged(endpoint={**IC, "max_copies": 5}, model={"tp_degree": 2})
    config = parse_environment("staging", raw)
    # ml.g6.12xlarge: 4 GPUs and 192 GiB; a 2-GPU copy reserves half of its 96 GiB share.
    assert (config.copies_per_instance, config.copy_memory_mb, config.max_ic_instances) == (2, 49152, 3)


def test_dev_runs_a_scale_to_zero_component_and_prod_a_single_model_endpoint() -> None:
    environments = cdk_context()["environments"]
    dev = parse_environment("dev", environments["dev"]).endpoint
    prod = parse_environment("prod", environments["prod"]).endpoint
    assert (dev.mode, dev.min_copies) == ("inference-component", 0)
    assert (prod.mode, prod.min_instances) == ("single-model", 2)


# --- Who the alarms notify, and the agent function's concurrency (issue 22, items 8 and 10) -----------------

TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"


def test_alarms_may_notify_an_existing_topic() -> None:
    config = parse_environment("staging", merged(monitoring={"alarm_topic_arn": TOPIC}))
    assert config.monitoring.alarm_topic_arn == TOPIC


@pytest.mark.parametrize(
    "arn", ["oncall", "arn:aws:sqs:eu-west-1:123456789012:oncall", "arn:aws:sns:eu-west-1:1234:oncall"]
)
def test_an_alarm_topic_must_be_an_sns_topic_arn(arn: str) -> None:
    error = error_for(merged(monitoring={"alarm_topic_arn": arn}))
    assert error.key == "monitoring.alarm_topic_arn"
    assert "the ARN of an existing SNS topic" in str(error)


def test_an_alarm_topic_and_an_alarm_email_are_one_or_the_other() -> None:
    error = error_for(merged(monitoring={"alarm_topic_arn": TOPIC, "alarm_email": "oncall@example.com"}))
    assert error.key == "monitoring.alarm_email / monitoring.alarm_topic_arn"


def test_an_alarm_topic_must_be_in_the_environments_region() -> None:
    raw = {**merged(monitoring={"alarm_topic_arn": TOPIC}), "region": "us-east-1"}
    error = error_for(raw)
    assert error.key == "monitoring.alarm_topic_arn"
    assert "the topic is in eu-west-1, the environment deploys to us-east-1" in str(error)


def test_the_function_reserves_twice_the_requests_the_endpoint_serves_at_once() -> None:
    environments = cdk_context()["environments"]
    # dev: 1 copy x 8 in-flight requests; prod: 4 instances x 8.
    assert parse_environment("dev", environments["dev"]).function_concurrency == 16
    assert parse_environment("prod", environments["prod"]).function_concurrency == 64


def test_a_configured_reserved_concurrency_replaces_the_derived_one() -> None:
    config = parse_environment("staging", merged(**{"lambda": {"reserved_concurrency": 5}}))
    assert config.function_concurrency == 5
    error = error_for(merged(**{"lambda": {"reserved_concurrency": 0}}))
    assert error.key == "lambda.reserved_concurrency"
    assert "an integer >= 1" in str(error)
