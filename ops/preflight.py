"""Check an account before ``cdk deploy``: ``python -m ops.preflight --env dev`` (``make preflight ENV=dev``).

Each check reads only (STS, CloudFormation, Service Quotas, Secrets Manager, S3, API Gateway, IAM, SNS,
Lambda, X-Ray). A failed check prints what is wrong and the command that fixes it; any failure exits non-zero.
A warning (alarms that reach no one, a caller role whose session names are free) prints its fix too,
but does not fail the run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ops.caller_roles import IamRoles, caller_roles_skipped, check_caller_role
from ops.environment import load_environment
from ops.results import Result, report
from ops.tool_policies import IamPolicies, check_tool_policies
from ops.traces import TraceSegmentDestinations, check_traces
from stacks.config import PULL_THROUGH_SECRET_PREFIX, ConfigError, EnvironmentConfig
from stacks.rollout import component_rollout_instances, is_rolling, rollout_instances

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_sts import STSClient

BOOTSTRAP_STACK = "CDKToolkit"
# Every synthesized template's CheckBootstrapVersion rule refuses bootstrap versions 1-5.
MIN_BOOTSTRAP_VERSION = 6
API_GATEWAY_LOGS_ROLE = "APIGatewayCloudWatchLogs"


class ApiGatewayAccount(Protocol):
    """The one API Gateway call preflight makes (no mypy-boto3 stubs for API Gateway are installed)."""

    def get_account(self) -> dict[str, Any]:
        """Return the account's API Gateway settings (``cloudwatchRoleArn`` among them)."""
        ...


class SnsTopics(Protocol):
    """The one SNS call preflight makes (GetTopicAttributes)."""

    def get_topic_attributes(self, *, TopicArn: str) -> Any:
        """Return the topic's attributes (``SubscriptionsConfirmed``, ``KmsMasterKeyId`` among them)."""
        ...


class LambdaAccount(Protocol):
    """The one Lambda call preflight makes (GetAccountSettings)."""

    def get_account_settings(self) -> Any:
        """Return the account's Lambda limits (``AccountLimit.ConcurrentExecutions`` among them)."""
        ...


class IamReads(IamRoles, IamPolicies, Protocol):
    """The IAM calls preflight makes: the caller roles' trust policies and the tools' policies."""


@dataclass(frozen=True)
class Clients:
    """The AWS clients preflight reads with, all in the target region."""

    region: str
    sts: STSClient
    cloudformation: CloudFormationClient
    service_quotas: ServiceQuotasClient
    secrets: SecretsManagerClient
    s3: S3Client
    apigateway: ApiGatewayAccount
    iam: IamReads
    sns: SnsTopics
    lambda_: LambdaAccount
    xray: TraceSegmentDestinations


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def check_identity(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check credentials resolve, to the account and region the environment names (if any)."""
    name = "credentials, account and region"
    try:
        account = clients.sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        return Result(name, f"no usable AWS credentials ({error})", "aws configure   # or: aws sso login")
    if config.account is not None and account != config.account:
        return Result(
            name,
            f"credentials are for account {account}, the environment deploys to {config.account}",
            f"use credentials of account {config.account} (e.g. export AWS_PROFILE=...)",
        )
    if config.region is not None and clients.region != config.region:
        return Result(
            name,
            f"the region is {clients.region}, the environment deploys to {config.region}",
            f"export AWS_DEFAULT_REGION={config.region}",
        )
    return Result(f"{name}: {account} in {clients.region}")


def check_bootstrap(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the CDK bootstrap stack exists, at least the version the templates require."""
    name = f"CDK bootstrap ({BOOTSTRAP_STACK})"
    target = f"aws://{config.account or '<ACCOUNT>'}/{clients.region}"
    fix = f"npx cdk bootstrap {target}"
    try:
        stacks = clients.cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except ClientError as error:
        if _error_code(error) == "ValidationError":
            return Result(name, f"{BOOTSTRAP_STACK} does not exist in {clients.region}", fix)
        raise
    outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stacks[0].get("Outputs", [])}
    version = outputs.get("BootstrapVersion")
    if version is None or not version.isdigit() or int(version) < MIN_BOOTSTRAP_VERSION:
        return Result(name, f"bootstrap version {version}, at least {MIN_BOOTSTRAP_VERSION} is needed", fix)
    return Result(f"{name}: version {version}")


def _endpoint_quota(clients: Clients, instance_type: str) -> dict[str, Any] | None:
    quota_name = f"{instance_type} for endpoint usage"
    pages = clients.service_quotas.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker")
    for page in pages:
        for quota in page["Quotas"]:
            if quota.get("QuotaName") == quota_name:
                return dict(quota)
    return None


def _instances_needed(config: EnvironmentConfig) -> tuple[int, str]:
    """Instances of the endpoint's type a deploy and a rollout may run at once, and how that adds up."""
    endpoint = config.endpoint
    if endpoint.inference_component:
        needed = component_rollout_instances(endpoint, config.copies_per_instance)
        return needed, (
            f"{endpoint.max_copies} copies at most by autoscaling + a rolling step's new copies, "
            f"{config.copies_per_instance} per instance"
        )
    needed = rollout_instances(endpoint)
    if is_rolling(endpoint):
        return (
            needed,
            f"{endpoint.max_instances} at most by autoscaling + {needed - endpoint.max_instances} rolling",
        )
    return needed, f"{endpoint.max_instances} at most by autoscaling, twice during a blue/green update"


def check_quota(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the instance type is offered for endpoints, with quota for a deploy and a rollout."""
    endpoint = config.endpoint
    instance_type = endpoint.instance_type
    needed, how = _instances_needed(config)
    name = f"SageMaker quota '{instance_type} for endpoint usage'"
    quota = _endpoint_quota(clients, instance_type)
    if quota is None:
        return Result(
            name,
            f"{instance_type} is not offered for SageMaker endpoints in {clients.region} (no such quota)",
            "set endpoint.instance_type in cdk.json to a type listed by: aws service-quotas "
            f"list-service-quotas --service-code sagemaker --region {clients.region} "
            "--query \"Quotas[?ends_with(QuotaName, 'for endpoint usage')].QuotaName\"",
        )
    value = int(quota.get("Value", 0))
    if value < needed:
        return Result(
            name,
            f"quota {value}, a deploy and a rollout need {needed} ({how})",
            f"aws service-quotas request-service-quota-increase --service-code sagemaker "
            f"--quota-code {quota['QuotaCode']} --desired-value {needed} --region {clients.region}",
        )
    return Result(f"{name}: {value} >= {needed} ({how})")


def _secret_exists(clients: Clients, secret_name: str) -> bool:
    try:
        clients.secrets.describe_secret(SecretId=secret_name)
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def check_weights(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the Hugging Face token secret exists, or the S3 weights prefix is readable, not empty."""
    model = config.model
    if model.s3_uri is not None:
        name = f"model weights under {model.s3_uri}"
        bucket, _, prefix = model.s3_uri.removeprefix("s3://").partition("/")
        try:
            listed = clients.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except ClientError as error:
            return Result(name, f"cannot list the prefix ({_error_code(error)})", f"aws s3 ls {model.s3_uri}")
        if listed.get("KeyCount", 0) == 0:
            return Result(name, "the prefix holds no objects", f"aws s3 sync ./WEIGHTS_DIR {model.s3_uri}")
        return Result(name)
    if model.hf_token_secret_name is None:
        return Result(f"model {model.hf_model_id} (public, no token)")
    name = f"Hugging Face token secret {model.hf_token_secret_name}"
    if not _secret_exists(clients, model.hf_token_secret_name):
        return Result(
            name,
            f"no such secret in {clients.region}",
            f'aws secretsmanager create-secret --name {model.hf_token_secret_name} --secret-string "hf_..."',
        )
    return Result(name)


def check_base_images(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the Docker Hub credentials secret exists when the ECR pull-through cache is used."""
    image = config.image
    if image.base_images != "ecr-pull-through":
        return Result(f"base images: {image.base_images} (anonymous, rate-limited per IP)")
    secret = image.docker_hub_secret_name
    name = f"Docker Hub credentials {secret} (ECR pull-through cache '{config.pull_through_prefix}')"
    assert secret.startswith(PULL_THROUGH_SECRET_PREFIX)
    if not _secret_exists(clients, secret):
        return Result(
            name,
            f"no such secret in {clients.region}",
            f"aws secretsmanager create-secret --name {secret} --secret-string "
            '\'{"username":"DOCKER_HUB_USER","accessToken":"DOCKER_HUB_ACCESS_TOKEN"}\'',
        )
    return Result(name)


def check_api_logging(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the account's API Gateway CloudWatch Logs role is set when ``api.stage_logs`` needs it."""
    name = "API Gateway CloudWatch Logs role (account setting)"
    if not config.api.stage_logs:
        return Result(f"{name}: not needed (api.stage_logs is false)")
    role = clients.apigateway.get_account().get("cloudwatchRoleArn")
    if not role:
        trust = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
        )
        account = config.account or "<ACCOUNT>"
        return Result(
            name,
            f"not set in {clients.region}, so the stage's logs would fail to create",
            f"aws iam create-role --role-name {API_GATEWAY_LOGS_ROLE} "
            f"--assume-role-policy-document '{trust}' && "
            f"aws iam attach-role-policy --role-name {API_GATEWAY_LOGS_ROLE} --policy-arn "
            "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs && "
            "aws apigateway update-account --patch-operations "
            f'"op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::{account}:role/{API_GATEWAY_LOGS_ROLE}"',
        )
    return Result(f"{name}: {role}")


def check_alarm_subscribers(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the alarms reach someone: an address the stack subscribes, or an existing topic's subscribers."""
    monitoring = config.monitoring
    name = "alarm notifications"
    choose = (
        f"set monitoring.alarm_email (an address the stack subscribes to its alarm topic) or "
        f"monitoring.alarm_topic_arn (an existing SNS topic) for environment {config.name} in cdk.json"
    )
    if monitoring.alarm_email is not None:
        return Result(f"{name}: {monitoring.alarm_email}, once it confirms the e-mail AWS sends after deploy")
    topic = monitoring.alarm_topic_arn
    if topic is None:
        return Result(name, "the alarms notify an SNS topic nobody is subscribed to", choose, warning=True)
    name = f"{name}: SNS topic {topic}"
    try:
        attributes = clients.sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    except ClientError as error:
        if _error_code(error) == "NotFound":
            return Result(
                name,
                f"no such topic in {clients.region}",
                f"aws sns create-topic --name {topic.rsplit(':', 1)[1]}, then subscribe to it (or {choose})",
            )
        raise
    # CloudWatch publishes to an encrypted topic only with a customer managed key whose policy lets it
    # ("Enable compatibility between event sources from AWS services and encrypted topics",
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
    # the AWS managed key's policy cannot be changed.
    if attributes.get("KmsMasterKeyId", "").endswith("alias/aws/sns"):
        return Result(
            name,
            "the topic is encrypted with the AWS managed key alias/aws/sns, which CloudWatch cannot use",
            f"aws sns set-topic-attributes --topic-arn {topic} --attribute-name KmsMasterKeyId "
            "--attribute-value <a customer managed key that allows cloudwatch.amazonaws.com>",
        )
    confirmed = int(attributes.get("SubscriptionsConfirmed", "0"))
    if confirmed == 0:
        return Result(
            name,
            "the topic has no confirmed subscription: the alarms would reach no one",
            f"aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint "
            "you@example.com   # then confirm the e-mail",
            warning=True,
        )
    return Result(f"{name}: {confirmed} confirmed subscription(s)")


# Lambda leaves this much of an account's concurrency unreserved: "You can reserve concurrency for as many
# functions as you like, as long as you leave at least 100 simultaneous executions unreserved" (botocore's
# lambda model, PutFunctionConcurrency).
LAMBDA_MIN_UNRESERVED = 100


def check_function_concurrency(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the account's Lambda concurrency can hold the agent function's reservation."""
    reserved = config.function_concurrency
    name = f"Lambda concurrency for the agent function's {reserved} reserved executions"
    limit = int(clients.lambda_.get_account_settings()["AccountLimit"]["ConcurrentExecutions"])
    needed = reserved + LAMBDA_MIN_UNRESERVED
    if limit < needed:
        most = limit - LAMBDA_MIN_UNRESERVED
        lower = f"   # or set lambda.reserved_concurrency to at most {most}" if most >= 1 else ""
        return Result(
            name,
            f"the account's limit is {limit}; reserving {reserved} needs {needed} (Lambda keeps "
            f"{LAMBDA_MIN_UNRESERVED} unreserved), so the deploy would fail",
            "aws service-quotas request-service-quota-increase --service-code lambda --quota-code "
            "$(aws service-quotas list-service-quotas --service-code lambda --query "
            "\"Quotas[?QuotaName=='Concurrent executions'].QuotaCode\" --output text) "
            f"--desired-value 1000 --region {clients.region}{lower}",
        )
    return Result(f"{name}: account limit {limit}")


def check_trace_destination(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the account takes the traces where the environment sends them (ops.traces)."""
    return check_traces(config, clients.region, clients.xray, clients.sts, clients.secrets)


def check_tool_policy_arns(config: EnvironmentConfig, clients: Clients) -> Result:
    """Check the policies of agent.tool_policy_arns exist and can be attached (ops.tool_policies)."""
    return check_tool_policies(config, clients.iam)


CHECKS: tuple[Callable[[EnvironmentConfig, Clients], Result], ...] = (
    check_identity,
    check_bootstrap,
    check_quota,
    check_weights,
    check_base_images,
    check_api_logging,
    check_alarm_subscribers,
    check_function_concurrency,
    check_trace_destination,
    check_tool_policy_arns,
)


def run_checks(
    config: EnvironmentConfig, clients: Clients, caller_roles: Sequence[str] = ()
) -> Iterator[Result]:
    """Every check's result, then one per role in ``caller_roles``; nothing after failed credentials.

    An AWS error a check does not expect (access denied, throttling...) fails that check with the error,
    never with a traceback.
    """
    for check in CHECKS:
        try:
            result = check(config, clients)
        except (ClientError, BotoCoreError) as error:
            what = (check.__doc__ or check.__name__).splitlines()[0].removeprefix("Check ").rstrip(".")
            result = _not_checked(what, error)
        yield result
        if check is check_identity and not result.ok:
            return
    skipped = caller_roles_skipped(config, caller_roles)
    if skipped is not None:
        yield skipped
        return
    for role in caller_roles:
        try:
            result = check_caller_role(clients.iam, role)
        except (ClientError, BotoCoreError) as error:
            result = _not_checked(f"caller role {role}", error)
        yield result


def _not_checked(what: str, error: ClientError | BotoCoreError) -> Result:
    return Result(
        what,
        f"could not be checked: {error}",
        "allow your credentials the read-only call named in the error, then run preflight again",
    )


def make_clients(region: str | None) -> Clients:
    """Real clients of the default credentials chain, in ``region`` or the configured default."""
    import boto3

    session = boto3.session.Session(region_name=region)
    name = session.region_name
    if name is None:
        raise SystemExit(
            "error: no AWS region: set AWS_DEFAULT_REGION or the environment's region in cdk.json"
        )
    return Clients(
        region=name,
        sts=session.client("sts"),
        cloudformation=session.client("cloudformation"),
        service_quotas=session.client("service-quotas"),
        secrets=session.client("secretsmanager"),
        s3=session.client("s3"),
        apigateway=session.client("apigateway"),
        iam=session.client("iam"),
        sns=session.client("sns"),
        lambda_=session.client("lambda"),
        xray=session.client("xray"),
    )


def main(argv: list[str] | None = None) -> int:
    """Check the account for one environment of cdk.json; 0 when every check passed."""
    parser = argparse.ArgumentParser(prog="python -m ops.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment of cdk.json (default: dev)")
    parser.add_argument(
        "--caller-role",
        action="append",
        default=[],
        metavar="ROLE",
        help="a role (name or ARN) callers assume to call the API: warn if its trust policy lets them choose "
        "any session name (repeat for each role; api.auth iam only)",
    )
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Preflight of {config.stack_name}")
    return 0 if report(run_checks(config, make_clients(config.region), args.caller_role)) else 1


if __name__ == "__main__":
    sys.exit(main())
