"""The SageMaker execution role: pulls the serving image, writes its logs and metrics, reads its weights."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import nag
from stacks.config import ModelSettings

METRICS_NAMESPACE_PATTERN = "/aws/sagemaker/*"


def execution_role(
    scope: Construct,
    *,
    endpoint_name: str,
    repository: ecr.IRepository,
    key: kms.IKey,
    log_group: logs.ILogGroup,
    model: ModelSettings,
) -> tuple[iam.Role, sagemaker.CfnModel.ModelDataSourceProperty | None]:
    """Return the role SageMaker runs the model with, and the S3 data source of its weights, if any.

    The role writes exactly ``log_group`` (and any other group given to :func:`grant_logs`), reads exactly
    the configured secret or weights prefix, and pulls only from ``repository``.
    """
    role = iam.Role(
        scope,
        "ExecutionRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"Runs {endpoint_name}: pulls its image, writes its logs, reads its weights",
    )
    repository.grant_pull(role)
    key.grant_decrypt(role)
    grant_logs(role, log_group)
    # SageMaker's instance and GPU metrics (namespaces /aws/sagemaker/Endpoints and, for components,
    # /aws/sagemaker/InferenceComponents) are published with the execution role, as in AWS's CreateModel role
    # policy (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms);
    # the namespace condition keeps the role from writing any other metrics.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": METRICS_NAMESPACE_PATTERN}},
        )
    )
    nag.acknowledge(
        role,
        nag.wildcard_resources(
            ["*"],
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions; "
            "image pulls are scoped to the serving repository, metrics to SageMaker's namespaces.",
        ),
        nag.compliance_rule(
            "IAMNoInlinePolicy",
            "The policy is specific to this endpoint's image, logs, secret and weights; no managed "
            "policy is that narrow.",
        ),
    )
    if model.hf_token_secret_name is not None:
        secretsmanager.Secret.from_secret_name_v2(scope, "HfToken", model.hf_token_secret_name).grant_read(
            role
        )
    if model.s3_uri is None:
        return role, None
    return role, _grant_weights_prefix(role, model.s3_uri)


def grant_logs(role: iam.IRole, log_group: logs.ILogGroup) -> None:
    """Let SageMaker write the model's logs to ``log_group`` with ``role``, and only to it."""
    log_group.grant_write(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"], resources=[log_group.log_group_arn]
        )
    )


def _grant_weights_prefix(role: iam.Role, s3_uri: str) -> sagemaker.CfnModel.ModelDataSourceProperty:
    """Read access to exactly the weights prefix, and the data source placing it under /opt/ml/model."""
    bucket, _, prefix = s3_uri.removeprefix("s3://").partition("/")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"]
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )
    nag.acknowledge(
        role,
        nag.wildcard_resources(
            [f"arn:<AWS::Partition>:s3:::{bucket}/{prefix}*"],
            "The model weights are every object under the configured S3 prefix, and only those.",
        ),
    )
    return sagemaker.CfnModel.ModelDataSourceProperty(
        s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
            s3_uri=s3_uri, s3_data_type="S3Prefix", compression_type="None"
        )
    )
