"""Each preflight check failing and passing, against botocore's Stubber (requests checked by the models)."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from typing import Any

from ops import preflight
from ops.environment import CDK_JSON, load_environment
from ops.results import Result, report
from stacks.config import parse_environment

# stubbed_clients: the fixture `stubbed`, preflight's own (the doctor's in conftest.py has that name too).
from tests.ops.preflight_fakes import (  # noqa: F401
    ACCOUNT,
    HF,
    REGION,
    FakeApiGateway,
    Stubbed,
    environment,
    stubbed_clients,
)


def quota(stubbed: Stubbed, instance_type: str, value: float) -> None:
    stubbed.stubs["service_quotas"].add_response(
        "list_service_quotas",
        {
            "Quotas": [
                {"QuotaName": "ml.g5.xlarge for endpoint usage", "QuotaCode": "L-1", "Value": 8.0},
                {"QuotaName": f"{instance_type} for endpoint usage", "QuotaCode": "L-2", "Value": value},
            ]
        },
        {"ServiceCode": "sagemaker"},
    )


# --- credentials --------------------------------------------------------------------------------------------


def test_identity_passes_in_the_configured_account(stubbed: Stubbed) -> None:
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    result = preflight.check_identity(environment(account=ACCOUNT), stubbed.clients)
    assert (result.ok, result.name) == (True, f"credentials, account and region: {ACCOUNT} in {REGION}")


def test_identity_fails_in_another_account_naming_both(stubbed: Stubbed) -> None:
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": "210987654321"}, {})
    result = preflight.check_identity(environment(account=ACCOUNT), stubbed.clients)
    assert result.problem == f"credentials are for account 210987654321, the environment deploys to {ACCOUNT}"


def test_identity_fails_without_credentials_and_nothing_else_is_checked(stubbed: Stubbed) -> None:
    stubbed.stubs["sts"].add_client_error("get_caller_identity", "InvalidClientTokenId")
    results = list(preflight.run_checks(environment(), stubbed.clients))
    assert len(results) == 1 and not results[0].ok
    assert results[0].fix == "aws configure   # or: aws sso login"


def test_identity_fails_in_another_region(stubbed: Stubbed) -> None:
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    result = preflight.check_identity(environment(region="eu-west-1"), stubbed.clients)
    assert (result.problem, result.fix) == (
        "the region is us-east-1, the environment deploys to eu-west-1",
        "export AWS_DEFAULT_REGION=eu-west-1",
    )


# --- bootstrap ----------------------------------------------------------------------------------------------


def bootstrap_stack(version: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "CDKToolkit",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": "BootstrapVersion", "OutputValue": version}],
            }
        ]
    }


def test_an_unexpected_aws_error_fails_its_check_with_the_error_not_a_traceback(stubbed: Stubbed) -> None:
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    stubbed.stubs["cloudformation"].add_client_error("describe_stacks", "AccessDenied", "not authorized")
    # Only the first two checks run: the others would call clients with nothing stubbed.
    results = list(itertools.islice(preflight.run_checks(environment(), stubbed.clients), 2))
    assert results[1].name == "the CDK bootstrap stack exists, at least the version the templates require"
    assert results[1].problem == (
        "could not be checked: An error occurred (AccessDenied) when calling the DescribeStacks operation: "
        "not authorized"
    )


def test_bootstrap_passes_at_a_recent_version(stubbed: Stubbed) -> None:
    stubbed.stubs["cloudformation"].add_response(
        "describe_stacks", bootstrap_stack("30"), {"StackName": "CDKToolkit"}
    )
    assert preflight.check_bootstrap(environment(), stubbed.clients).ok


def test_bootstrap_fails_when_missing_with_the_bootstrap_command(stubbed: Stubbed) -> None:
    stubbed.stubs["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", "Stack with id CDKToolkit does not exist"
    )
    result = preflight.check_bootstrap(environment(account=ACCOUNT), stubbed.clients)
    assert result.problem == "CDKToolkit does not exist in us-east-1"
    assert result.fix == f"npx cdk bootstrap aws://{ACCOUNT}/us-east-1"


def test_bootstrap_fails_below_the_version_the_templates_require(stubbed: Stubbed) -> None:
    stubbed.stubs["cloudformation"].add_response(
        "describe_stacks", bootstrap_stack("5"), {"StackName": "CDKToolkit"}
    )
    result = preflight.check_bootstrap(environment(), stubbed.clients)
    assert result.problem == "bootstrap version 5, at least 6 is needed"


# --- quota and instance type --------------------------------------------------------------------------------


def test_quota_passes_when_it_covers_a_blue_green_rollout_of_one_instance(stubbed: Stubbed) -> None:
    quota(stubbed, "ml.g6.12xlarge", 2.0)
    assert preflight.check_quota(environment(), stubbed.clients).ok


def test_quota_fails_below_a_rolling_rollout_with_the_increase_request(stubbed: Stubbed) -> None:
    quota(stubbed, "ml.g6.12xlarge", 4.0)
    config = environment(endpoint={"min_instances": 2, "max_instances": 4})
    result = preflight.check_quota(config, stubbed.clients)
    assert result.problem == "quota 4, a deploy and a rollout need 5 (4 at most by autoscaling + 1 rolling)"
    assert result.fix == (
        "aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-2 "
        "--desired-value 5 --region us-east-1"
    )


def test_inference_component_quota_covers_its_copies_plus_a_rolling_step(stubbed: Stubbed) -> None:
    # 3 copies at most, 2 per instance (tp_degree 2 of 4 GPUs), a rolling step adds half of 3: 5 copies.
    quota(stubbed, "ml.g6.12xlarge", 2.0)
    config = environment(
        model={**HF["model"], "tp_degree": 2}, endpoint={"mode": "inference-component", "max_copies": 3}
    )
    result = preflight.check_quota(config, stubbed.clients)
    assert result.problem == (
        "quota 2, a deploy and a rollout need 3 (3 copies at most by autoscaling + a rolling step's new "
        "copies, 2 per instance)"
    )


def test_instance_type_without_an_endpoint_quota_is_not_offered_in_the_region(stubbed: Stubbed) -> None:
    quota(stubbed, "ml.g5.2xlarge", 1.0)
    result = preflight.check_quota(environment(endpoint={"instance_type": "ml.p5.48xlarge"}), stubbed.clients)
    assert (
        result.problem == "ml.p5.48xlarge is not offered for SageMaker endpoints in us-east-1 (no such quota)"
    )
    assert result.fix is not None and "list-service-quotas --service-code sagemaker" in result.fix


# --- weights and secrets ------------------------------------------------------------------------------------


def test_hf_token_secret_passes_when_it_exists(stubbed: Stubbed) -> None:
    stubbed.stubs["secrets"].add_response(
        "describe_secret", {"Name": "team/hf-token"}, {"SecretId": "team/hf-token"}
    )
    assert preflight.check_weights(environment(), stubbed.clients).ok


def test_hf_token_secret_fails_when_missing_with_the_create_command(stubbed: Stubbed) -> None:
    stubbed.stubs["secrets"].add_client_error("describe_secret", "ResourceNotFoundException")
    result = preflight.check_weights(environment(), stubbed.clients)
    assert result.fix == 'aws secretsmanager create-secret --name team/hf-token --secret-string "hf_..."'


S3_ENV = {"model": {"s3_uri": "s3://team-weights/llama/"}}


def test_s3_weights_pass_when_the_prefix_has_objects(stubbed: Stubbed) -> None:
    stubbed.stubs["s3"].add_response(
        "list_objects_v2", {"KeyCount": 1}, {"Bucket": "team-weights", "Prefix": "llama/", "MaxKeys": 1}
    )
    assert preflight.check_weights(parse_environment("dev", S3_ENV), stubbed.clients).ok


def test_s3_weights_fail_when_the_prefix_is_empty(stubbed: Stubbed) -> None:
    stubbed.stubs["s3"].add_response(
        "list_objects_v2", {"KeyCount": 0}, {"Bucket": "team-weights", "Prefix": "llama/", "MaxKeys": 1}
    )
    result = preflight.check_weights(parse_environment("dev", S3_ENV), stubbed.clients)
    assert (result.problem, result.fix) == (
        "the prefix holds no objects",
        "aws s3 sync ./WEIGHTS_DIR s3://team-weights/llama/",
    )


def test_s3_weights_fail_when_unreadable(stubbed: Stubbed) -> None:
    stubbed.stubs["s3"].add_client_error("list_objects_v2", "AccessDenied")
    result = preflight.check_weights(parse_environment("dev", S3_ENV), stubbed.clients)
    assert result.problem == "cannot list the prefix (AccessDenied)"


def test_pull_through_secret_passes_when_it_exists(stubbed: Stubbed) -> None:
    secret = "ecr-pullthroughcache/docker-hub"
    stubbed.stubs["secrets"].add_response("describe_secret", {"Name": secret}, {"SecretId": secret})
    assert preflight.check_base_images(environment(), stubbed.clients).ok


def test_pull_through_secret_fails_when_missing_with_the_create_command(stubbed: Stubbed) -> None:
    stubbed.stubs["secrets"].add_client_error("describe_secret", "ResourceNotFoundException")
    result = preflight.check_base_images(environment(), stubbed.clients)
    assert result.fix is not None
    assert result.fix.startswith("aws secretsmanager create-secret --name ecr-pullthroughcache/docker-hub")
    assert '"accessToken"' in result.fix


def test_docker_hub_base_images_need_no_secret(stubbed: Stubbed) -> None:
    assert preflight.check_base_images(environment(image={"base_images": "docker-hub"}), stubbed.clients).ok


# --- API Gateway logging role -------------------------------------------------------------------------------


def test_stage_logs_fail_without_the_account_logging_role(stubbed: Stubbed) -> None:
    result = preflight.check_api_logging(
        environment(account=ACCOUNT, api={"stage_logs": True}), stubbed.clients
    )
    assert result.problem == "not set in us-east-1, so the stage's logs would fail to create"
    assert result.fix is not None and "cloudwatchRoleArn,value=arn:aws:iam::123456789012:role/" in result.fix


def test_stage_logs_pass_with_the_account_logging_role(stubbed: Stubbed) -> None:
    clients = dataclasses.replace(
        stubbed.clients, apigateway=FakeApiGateway({"cloudwatchRoleArn": "arn:aws:iam::1:role/logs"})
    )
    assert preflight.check_api_logging(environment(api={"stage_logs": True}), clients).ok


def test_without_stage_logs_the_logging_role_is_not_needed(stubbed: Stubbed) -> None:
    assert preflight.check_api_logging(environment(), stubbed.clients).ok


# --- the agent function's reserved concurrency --------------------------------------------------------------


def account_limit(stubbed: Stubbed, concurrent: int) -> None:
    stubbed.stubs["lambda_"].add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": concurrent, "UnreservedConcurrentExecutions": concurrent}},
        {},
    )


def test_function_concurrency_passes_when_the_account_keeps_100_unreserved(stubbed: Stubbed) -> None:
    account_limit(stubbed, 1000)
    result = preflight.check_function_concurrency(environment(), stubbed.clients)
    assert result.ok and result.name.endswith("account limit 1000")


def test_a_new_accounts_concurrency_limit_fails_with_the_increase_request(stubbed: Stubbed) -> None:
    # A new account's limit can be 10: Lambda refuses any reservation that leaves fewer than 100 unreserved.
    account_limit(stubbed, 10)
    config = environment()
    result = preflight.check_function_concurrency(config, stubbed.clients)
    needed = config.function_concurrency + 100
    assert result.problem == (
        f"the account's limit is 10; reserving {config.function_concurrency} needs {needed} (Lambda keeps "
        "100 unreserved), so the deploy would fail"
    )
    assert result.fix is not None and "request-service-quota-increase --service-code lambda" in result.fix
    assert "reserved_concurrency" not in result.fix


def test_a_limit_just_short_names_the_reservation_that_would_fit(stubbed: Stubbed) -> None:
    account_limit(stubbed, 110)
    result = preflight.check_function_concurrency(environment(), stubbed.clients)
    assert result.fix is not None and result.fix.endswith(
        "# or set lambda.reserved_concurrency to at most 10"
    )


# --- the command --------------------------------------------------------------------------------------------


def test_report_prints_each_failure_with_its_fix_and_fails() -> None:
    lines: list[str] = []
    results = iter([Result("a"), Result("b", "is wrong", "do this")])
    assert report(results, lines.append) is False
    assert lines == ["ok    a", "FAIL  b: is wrong", "      fix: do this"]


def test_every_check_passes_for_cdk_jsons_dev(stubbed: Stubbed) -> None:
    config = load_environment("dev")
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    stubbed.stubs["cloudformation"].add_response(
        "describe_stacks", bootstrap_stack("30"), {"StackName": "CDKToolkit"}
    )
    quota(stubbed, config.endpoint.instance_type, 2.0)
    for secret in (config.model.hf_token_secret_name, config.image.docker_hub_secret_name):
        stubbed.stubs["secrets"].add_response("describe_secret", {"Name": secret}, {"SecretId": secret})
    account_limit(stubbed, 1000)
    lines: list[str] = []
    # cdk.json's dev names no alarm subscriber: a warning with its fix, and the run passes.
    assert report(preflight.run_checks(config, stubbed.clients), lines.append)
    # Each check's line and the caller roles' (none named: dev is an iam environment); dev names no alarm
    # subscriber, so one of them is a warning.
    checks = [line for line in lines if not line.startswith("      fix:")]
    assert len(checks) == len(preflight.CHECKS) + 1
    assert [line.split()[0] for line in checks].count("WARN") == 1
    assert checks[-1].startswith("ok    caller roles: not checked")


def test_each_named_caller_role_is_checked_after_the_account_and_an_iam_error_fails_only_its_role(
    stubbed: Stubbed,
) -> None:
    config = load_environment("dev")
    stubbed.stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    stubbed.stubs["cloudformation"].add_response(
        "describe_stacks", bootstrap_stack("30"), {"StackName": "CDKToolkit"}
    )
    quota(stubbed, config.endpoint.instance_type, 2.0)
    for secret in (config.model.hf_token_secret_name, config.image.docker_hub_secret_name):
        stubbed.stubs["secrets"].add_response("describe_secret", {"Name": secret}, {"SecretId": secret})
    account_limit(stubbed, 1000)
    stubbed.stubs["iam"].add_client_error(
        "get_role", "AccessDenied", "not authorized", expected_params={"RoleName": "a"}
    )
    stubbed.stubs["iam"].add_client_error(
        "get_role", "NoSuchEntity", "no role", expected_params={"RoleName": "b"}
    )
    results = list(preflight.run_checks(config, stubbed.clients, ["a", "b"]))
    assert [r.name for r in results[-2:]] == ["caller role a", "caller role b"]
    assert str(results[-2].problem).startswith("could not be checked: An error occurred (AccessDenied)")
    assert results[-1].problem == "no such role in this account"


def test_unknown_environment_is_one_clear_error_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops.preflight", "--env", "nope"],
        cwd=CDK_JSON.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cdk.json environment 'nope': env: no such environment")


def test_preflight_imports_neither_cdk_nor_the_web_framework() -> None:
    probe = "import sys, ops.preflight, ops.environment; print(sorted(m.split('.')[0] for m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=CDK_JSON.parent, capture_output=True, text=True, check=True
    ).stdout
    for package in ("aws_cdk", "constructs", "jsii", "starlette", "uvicorn", "strands"):
        assert f"'{package}'" not in loaded
