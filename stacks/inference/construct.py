"""The SageMaker real-time endpoint serving the model: role, model, endpoint config, endpoint and scaling."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import nag, rollout
from stacks.config import EndpointSettings, ModelSettings
from stacks.removal import removal_policy

VARIANT_NAME = "AllTraffic"
_CONCURRENCY_METRIC = (
    autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
)
MODEL_DIR = "/opt/ml/model"
METRICS_NAMESPACE_PATTERN = "/aws/sagemaker/*"
_NVME_KMS_REASON = (
    "SageMaker rejects KmsKeyId for GPU instances with local NVMe storage (g5, g6, g6e, p4d, p5), whose "
    "instance storage AWS encrypts in hardware."
)


def serving_environment(model: ModelSettings, tp_degree: int) -> dict[str, str]:
    """Return the serving container's SERVE_* environment (docs/container.md) for the model settings."""
    env = {
        "SERVE_ENGINE": model.engine,
        "SERVE_MODEL_PROFILE": model.profile,
        "SERVE_TP_DEGREE": str(tp_degree),
        "SERVE_SERVED_MODEL_NAME": "model",
        "AWS_DEFAULT_REGION": Aws.REGION,
    }
    if model.hf_model_id is not None:
        env["SERVE_MODEL_ID"] = model.hf_model_id
    else:
        env["SERVE_MODEL_DIR"] = MODEL_DIR
    optional = {
        "SERVE_HF_TOKEN_SECRET": model.hf_token_secret_name,
        "SERVE_MAX_MODEL_LEN": None if model.max_model_len is None else str(model.max_model_len),
        "SERVE_TOOL_CALL_PARSER": model.tool_call_parser,
        "SERVE_REASONING_PARSER": model.reasoning_parser,
        "SERVE_EXTRA_ARGS": model.extra_args or None,
    }
    env.update({name: value for name, value in optional.items() if value is not None})
    return env


def deployment_config(
    endpoint: EndpointSettings, rollback_alarms: Sequence[cloudwatch.IAlarm]
) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
    """How updates replace the endpoint's instances (``stacks/rollout.py``), rolling back on any alarm."""
    timeout = rollout.rollout_timeout_seconds(endpoint)
    one_batch = sagemaker.CfnEndpoint.CapacitySizeProperty(
        type="INSTANCE_COUNT", value=rollout.ROLLING_BATCH_INSTANCES
    )
    rolling = blue_green = None
    if rollout.is_rolling(endpoint):
        rolling = sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
            maximum_batch_size=one_batch,
            rollback_maximum_batch_size=one_batch,
            wait_interval_in_seconds=rollout.BAKE_SECONDS,
            maximum_execution_timeout_in_seconds=timeout,
        )
    else:
        blue_green = sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="ALL_AT_ONCE", wait_interval_in_seconds=rollout.BAKE_SECONDS
            ),
            termination_wait_in_seconds=0,
            maximum_execution_timeout_in_seconds=timeout,
        )
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        rolling_update_policy=rolling,
        blue_green_update_policy=blue_green,
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name) for alarm in rollback_alarms
            ]
        ),
    )


class InferenceEndpoint(Construct):
    """A GPU SageMaker endpoint running ``image_uri`` with the given model, scaled on concurrency.

    ``endpoint_name`` is fixed (``EnvironmentConfig.endpoint_name``) so that the execution role can be scoped
    to the endpoint's own log group and the alarms can watch it before it exists; it names the instance type,
    so changing the type replaces the endpoint. A model change updates it in place, by ``deployment_config``,
    keeping the instance count autoscaling chose (RetainAllVariantProperties).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ModelSettings,
        tp_degree: int,
        endpoint: EndpointSettings,
        image_uri: str,
        repository: ecr.IRepository,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        retain: bool,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name

        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            retention=log_retention,
            encryption_key=key,
            removal_policy=removal_policy(retain),
        )
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs {self.endpoint_name}: pulls its image, writes its logs, reads its weights",
        )
        repository.grant_pull(self.role)
        key.grant_decrypt(self.role)
        log_group.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                resources=[log_group.log_group_arn],
            )
        )
        # SageMaker's instance and GPU metrics (namespace /aws/sagemaker/Endpoints) are published with the
        # execution role, as in AWS's CreateModel role policy
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms);
        # the namespace condition keeps the role from writing any other metrics.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": METRICS_NAMESPACE_PATTERN}},
            )
        )
        nag.acknowledge(
            self.role,
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
            secretsmanager.Secret.from_secret_name_v2(self, "HfToken", model.hf_token_secret_name).grant_read(
                self.role
            )
        model_data_source = None
        if model.s3_uri is not None:
            model_data_source = self._grant_weights_prefix(model.s3_uri)

        sagemaker_model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                environment=serving_environment(model, tp_degree),
                model_data_source=model_data_source,
            ),
        )
        # The role's policy must exist before SageMaker validates the image pull.
        sagemaker_model.node.add_dependency(self.role)
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=sagemaker_model.attr_model_name,
                    instance_type=endpoint.instance_type,
                    initial_instance_count=endpoint.min_instances,
                    initial_variant_weight=1,
                    container_startup_health_check_timeout_in_seconds=(
                        endpoint.startup_health_check_timeout_seconds
                    ),
                    model_data_download_timeout_in_seconds=endpoint.model_download_timeout_seconds,
                    inference_ami_version=endpoint.inference_ami_version,
                    # Generation times vary by orders of magnitude; route to the least busy instance.
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
        )
        nag.acknowledge(
            endpoint_config,
            nag.compliance_rule("SageMakerEndpointConfigurationKMSKeyConfigured", _NVME_KMS_REASON),
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
            deployment_config=deployment_config(endpoint, rollback_alarms),
            retain_all_variant_properties=True,
        )
        self.endpoint.node.add_dependency(log_group)
        self._autoscale(endpoint)

    def _grant_weights_prefix(self, s3_uri: str) -> sagemaker.CfnModel.ModelDataSourceProperty:
        """Read access to exactly the weights prefix, and the data source placing it under /opt/ml/model."""
        bucket, _, prefix = s3_uri.removeprefix("s3://").partition("/")
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        nag.acknowledge(
            self.role,
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

    def _autoscale(self, endpoint: EndpointSettings) -> None:
        """Target-track in-flight requests per instance (see docs/deploy.md for why not invocations)."""
        target = autoscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=endpoint.min_instances,
            max_capacity=endpoint.max_instances,
        )
        target.scale_to_track_metric(
            "ConcurrentRequests",
            predefined_metric=_CONCURRENCY_METRIC,
            target_value=endpoint.target_concurrent_requests,
            # A new GPU instance needs many minutes to load an 8B model: scale out early, scale in slowly.
            scale_out_cooldown=Duration.minutes(5),
            scale_in_cooldown=Duration.minutes(15),
        )

    @property
    def endpoint_arn(self) -> str:
        """ARN of the endpoint (SageMaker lower-cases the name inside ARNs)."""
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke exactly this endpoint, buffered or streaming."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=[self.endpoint_arn],
        )
