"""Fine-grained assertions on what matters in the templates of dev, prod and an S3-weights variant."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from agent_api import contract
from tests.infra.infra_support import agent_function, api_methods, only, resources
from tests.support.api_routes import PAGE_ROUTES, ROUTES

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]


def policy_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if f'"{role_prefix}' in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- API Gateway -------------------------------------------------------------------------------------------


def test_the_api_serves_chat_the_openai_the_model_state_and_the_page_routes_only(template: Lookup) -> None:
    assert set(api_methods(template("dev"))) == {*ROUTES, *PAGE_ROUTES}


@pytest.mark.parametrize(("path", "http_method"), ROUTES)
def test_every_method_streams_from_the_lambda_with_a_15_minute_timeout_behind_sigv4(
    template: Lookup, path: str, http_method: str
) -> None:
    method = api_methods(template("dev"))[(path, http_method)]
    assert method["AuthorizationType"] == "AWS_IAM"
    integration = method["Integration"]
    assert (integration["Type"], integration["ResponseTransferMode"]) == ("AWS_PROXY", "STREAM")
    assert integration["TimeoutInMillis"] == 15 * 60 * 1000
    uri_parts = integration["Uri"]["Fn::Join"][1]
    assert uri_parts[-1] == "/response-streaming-invocations"
    assert ":lambda:path/2021-11-15/functions/" in uri_parts


def test_the_openai_routes_leave_validation_to_the_app(template: Lookup) -> None:
    # API Gateway's own 400 would not be OpenAI's error shape.
    methods = api_methods(template("dev"))
    assert "RequestModels" not in methods[(contract.OPENAI_CHAT_COMPLETIONS_PATH, "POST")]
    assert "RequestValidatorId" not in methods[(contract.OPENAI_CHAT_COMPLETIONS_PATH, "POST")]


def test_chat_method_requires_sigv4_and_validates_the_body(template: Lookup) -> None:
    method = api_methods(template("dev"))[(contract.CHAT_PATH, "POST")]
    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["HttpMethod"] == "POST"
    assert only(template("dev"), "AWS::ApiGateway::RequestValidator")["ValidateRequestBody"] is True
    assert "application/json" in method["RequestModels"]


def test_stage_is_throttled_per_environment(template: Lookup) -> None:
    settings = {
        env: only(template(env), "AWS::ApiGateway::Stage")["MethodSettings"][0] for env in ("dev", "prod")
    }
    assert (settings["dev"]["ThrottlingRateLimit"], settings["dev"]["ThrottlingBurstLimit"]) == (5, 10)
    assert (settings["prod"]["ThrottlingRateLimit"], settings["prod"]["ThrottlingBurstLimit"]) == (20, 40)


def test_stage_with_stage_logs_writes_json_access_logs_and_error_execution_logs(
    weights: dict[str, Any],
) -> None:
    stage = only(weights, "AWS::ApiGateway::Stage")
    fields = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "user", "caller", "httpMethod"} <= set(fields)
    assert stage["MethodSettings"][0]["LoggingLevel"] == "ERROR"


def test_stage_without_stage_logs_needs_no_account_logging_role(template: Lookup) -> None:
    stage = only(template("dev"), "AWS::ApiGateway::Stage")
    assert "AccessLogSetting" not in stage
    assert "LoggingLevel" not in stage["MethodSettings"][0]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_no_environment_sets_the_account_wide_api_gateway_logging_role(
    template: Lookup, environment: str
) -> None:
    # AWS::ApiGateway::Account is one setting per account and region: "you should only have one
    # AWS::ApiGateway::Account resource per region per account" (CloudFormation resource reference).
    assert resources(template(environment), "AWS::ApiGateway::Account") == {}
    roles = json.dumps(resources(template(environment), "AWS::IAM::Role"))
    assert "AmazonAPIGatewayPushToCloudWatchLogs" not in roles


# --- Lambda ------------------------------------------------------------------------------------------------


def test_agent_function_runs_python_3_13_on_arm64_behind_the_web_adapter(template: Lookup) -> None:
    function = agent_function(template("dev"))
    assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"])
    layer = function["Layers"][0]["Fn::Join"][1]
    assert layer[-1] == ":753240598075:layer:LambdaAdapterLayerArm64:30"


def test_x86_function_uses_the_x86_adapter_layer_and_system_prompt(weights: dict[str, Any]) -> None:
    function = agent_function(weights)
    assert function["Architectures"] == ["x86_64"]
    assert function["Layers"][0]["Fn::Join"][1][-1].endswith(":layer:LambdaAdapterLayerX86:27")
    assert function["Environment"]["Variables"]["AGENT_SYSTEM_PROMPT"] == "Answer briefly."


def test_agent_function_may_invoke_only_its_endpoint(template: Lookup) -> None:
    statements = policy_statements(template("prod"), "AgentApiFunctionServiceRole")
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in as_list(s["Action"])]
    assert len(invoke) == 1
    (endpoint,) = resources(template("prod"), "AWS::SageMaker::Endpoint")
    assert invoke[0]["Resource"] == {"Ref": endpoint}
    assert "sagemaker:InvokeEndpointWithResponseStream" in invoke[0]["Action"]


def test_sessions_bucket_is_encrypted_private_tls_only_and_expiring(template: Lookup) -> None:
    bucket = only(template("dev"), "AWS::S3::Bucket")
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7
    policy = only(template("dev"), "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


# --- SageMaker ---------------------------------------------------------------------------------------------


def test_variant_runs_the_configured_gpu_instances_on_a_cuda_13_ami(template: Lookup) -> None:
    (variant,) = only(template("prod"), "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g6.12xlarge", 2)
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1800


def test_model_environment_follows_the_serving_contract(template: Lookup) -> None:
    environment = only(template("dev"), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert environment == {
        "SERVE_ENGINE": "sglang",
        "SERVE_MODEL_PROFILE": "llama3",
        "SERVE_TP_DEGREE": "4",
        "SERVE_SERVED_MODEL_NAME": "model",
        "SERVE_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct",
        "SERVE_HF_TOKEN_SECRET": "sagemaker-agent/hf-token",
        "SERVE_MAX_MODEL_LEN": "32768",
        "AWS_DEFAULT_REGION": {"Ref": "AWS::Region"},
    }


def test_model_image_comes_from_the_wait_for_build_resource(template: Lookup) -> None:
    image = only(template("dev"), "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    (logical_id,) = resources(template("dev"), "Custom::ServingImage")
    assert image == {"Fn::GetAtt": [logical_id, "ImageUri"]}


def test_execution_role_has_no_broad_managed_policy(template: Lookup) -> None:
    roles = resources(template("dev"), "AWS::IAM::Role")
    (role,) = [r for key, r in roles.items() if key.startswith("InferenceExecutionRole")]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_execution_role_reads_only_its_secret_and_writes_only_its_log_group(template: Lookup) -> None:
    statements = policy_statements(template("dev"), "InferenceExecutionRole")
    secret = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert json.dumps(secret[0]["Resource"]).endswith(':secret:sagemaker-agent/hf-token-??????"]]}')
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"]
    assert wildcard[1]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
    logs = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
    assert "InferenceLogs" in json.dumps(logs[0]["Resource"])


def test_s3_weights_are_mounted_uncompressed_with_read_on_the_prefix_only(weights: dict[str, Any]) -> None:
    container = only(weights, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": "s3://team-weights/llama-3.1-8b/",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    assert container["Environment"]["SERVE_MODEL_DIR"] == "/opt/ml/model"
    assert "SERVE_MODEL_ID" not in container["Environment"]
    statements = policy_statements(weights, "InferenceExecutionRole")
    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert reads[0]["Resource"]["Fn::Join"][1][-1] == ":s3:::team-weights/llama-3.1-8b/*"


def test_tp_degree_follows_a_one_gpu_instance(weights: dict[str, Any]) -> None:
    environment = only(weights, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert (environment["SERVE_TP_DEGREE"], environment["SERVE_ENGINE"]) == ("1", "vllm")


def test_prod_scales_on_concurrent_requests_between_min_and_max(template: Lookup) -> None:
    target = only(template("prod"), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    policy = only(template("prod"), "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert (metric, tracking["TargetValue"]) == (
        "SageMakerVariantConcurrentRequestsPerModelHighResolution",
        8,
    )


# --- Image build -------------------------------------------------------------------------------------------


def test_repository_scans_on_push_with_immutable_encrypted_tags(template: Lookup) -> None:
    repository = only(template("dev"), "AWS::ECR::Repository")
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    assert "LifecyclePolicy" in repository


def test_build_is_privileged_with_the_contract_variables(template: Lookup) -> None:
    project = only(template("dev"), "AWS::CodeBuild::Project")
    environment = project["Environment"]
    assert environment["PrivilegedMode"] is True
    names = {v["Name"]: v["Value"] for v in environment["EnvironmentVariables"]}
    assert set(names) == {"REPOSITORY_URI", "IMAGE_TAG", "SERVE_ENGINE", "BASE_REGISTRY"}
    assert names["IMAGE_TAG"].startswith("sglang-")
    assert project["Source"]["Type"] == "S3"
    assert "EncryptionKey" in project


def test_image_tag_changes_with_the_engine(template: Lookup, weights: dict[str, Any]) -> None:
    (dev,) = (
        r["Properties"]["ImageTag"] for r in resources(template("dev"), "Custom::ServingImage").values()
    )
    (vllm,) = (r["Properties"]["ImageTag"] for r in resources(weights, "Custom::ServingImage").values())
    assert dev.startswith("sglang-")
    assert vllm.startswith("vllm-")


def test_stack_outputs_api_url_endpoint_name_and_repository_uri(template: Lookup) -> None:
    assert {"ApiUrl", "ChatUrl", "OpenAIBaseUrl", "EndpointName", "RepositoryUri"} <= set(
        template("prod")["Outputs"]
    )


def test_log_retention_follows_the_environment(template: Lookup) -> None:
    retention = {
        r["Properties"]["RetentionInDays"] for r in resources(template("dev"), "AWS::Logs::LogGroup").values()
    }
    assert retention == {14}


def test_build_fails_with_its_log_link_before_cloudformations_custom_resource_hour(template: Lookup) -> None:
    # CloudFormation waits at most 3600 seconds for a custom resource; queue time is not part of the build's
    # own timeout, so queue + build must end before the handler's deadline, and that before the waiter's.
    dev = template("dev")
    project = only(dev, "AWS::CodeBuild::Project")
    (image,) = resources(dev, "Custom::ServingImage").values()
    deadline = image["Properties"]["DeadlineSeconds"]
    assert (project["QueuedTimeoutInMinutes"] + project["TimeoutInMinutes"]) * 60 <= deadline
    (waiter,) = resources(dev, "AWS::StepFunctions::StateMachine").values()
    definition = waiter["Properties"]["DefinitionString"]["Fn::Join"][1][0]
    retry = dict(re.findall(r'"(IntervalSeconds|MaxAttempts)":(\d+)', definition))
    interval, attempts = int(retry["IntervalSeconds"]), int(retry["MaxAttempts"])
    assert deadline < interval * attempts < 3600


def test_alarm_email_subscribes_to_the_topic(weights: dict[str, Any], template: Lookup) -> None:
    subscription = only(weights, "AWS::SNS::Subscription")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ml-oncall@example.com")
    assert resources(template("dev"), "AWS::SNS::Subscription") == {}
