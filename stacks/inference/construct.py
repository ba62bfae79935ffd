"""The SageMaker real-time endpoint serving the model: role, model, endpoint config, endpoint and scaling.

Two modes (``endpoint.mode``, docs/deploy.md "Endpoint modes"): ``single-model`` puts the model on the
endpoint's variant and scales instances; ``inference-component`` deploys it as an
``AWS::SageMaker::InferenceComponent`` on a variant without a model, scales its copies (down to zero when
allowed) and lets managed instance scaling add and remove the instances those copies need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import nag, rollout
from stacks.config import EndpointSettings, ModelSettings, instances_for
from stacks.inference.serving_contract import serving
from stacks.removal import removal_policy

VARIANT_NAME = "AllTraffic"
_CONCURRENCY_METRIC = (
    autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
)
_COPY_CONCURRENCY_METRIC = (
    autoscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION
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
        serving.SERVE_ENGINE: model.engine,
        serving.SERVE_MODEL_PROFILE: model.profile,
        serving.SERVE_TP_DEGREE: str(tp_degree),
        serving.SERVE_SERVED_MODEL_NAME: serving.DEFAULT_SERVED_MODEL_NAME,
        "AWS_DEFAULT_REGION": Aws.REGION,
    }
    if model.hf_model_id is not None:
        env[serving.SERVE_MODEL_ID] = model.hf_model_id
    else:
        env[serving.SERVE_MODEL_DIR] = MODEL_DIR
    optional = {
        serving.SERVE_HF_TOKEN_SECRET: model.hf_token_secret_name,
        serving.SERVE_MAX_MODEL_LEN: None if model.max_model_len is None else str(model.max_model_len),
        serving.SERVE_TOOL_CALL_PARSER: model.tool_call_parser,
        serving.SERVE_REASONING_PARSER: model.reasoning_parser,
        serving.SERVE_EXTRA_ARGS: model.extra_args or None,
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


def component_deployment_config(
    endpoint: EndpointSettings, rollback_alarms: Sequence[cloudwatch.IAlarm]
) -> sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty:
    """How updates replace the component's copies (``stacks/rollout.py``), rolling back on any alarm."""
    batch = sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
        type="CAPACITY_PERCENT", value=rollout.COPY_BATCH_PERCENT
    )
    return sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
        rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
            maximum_batch_size=batch,
            rollback_maximum_batch_size=batch,
            wait_interval_in_seconds=rollout.BAKE_SECONDS,
            maximum_execution_timeout_in_seconds=rollout.component_rollout_timeout_seconds(endpoint),
        ),
        auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
            alarms=[
                sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=alarm.alarm_name)
                for alarm in rollback_alarms
            ]
        ),
    )


@dataclass(frozen=True)
class ComponentSpec:
    """An inference component: its name, what one copy reserves, and the instances all copies may need."""

    name: str
    accelerators: int  # GPUs per copy: the tensor-parallel degree
    memory_mb: int  # host memory per copy (MinMemoryRequiredInMb)
    copies_per_instance: int
    max_instances: int  # managed instance scaling's MaxInstanceCount


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
        component: ComponentSpec | None = None,
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
        self.component: sagemaker.CfnInferenceComponent | None = None
        if component is None:
            self._single_model(endpoint, sagemaker_model, rollback_alarms)
        else:
            self._inference_component(endpoint, sagemaker_model, rollback_alarms, component)
        self.endpoint.node.add_dependency(log_group)

    def _variant(
        self, endpoint: EndpointSettings, **mode_specific: object
    ) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """Build the endpoint's one variant: instance type, AMI and routing shared by both modes."""
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=VARIANT_NAME,
            instance_type=endpoint.instance_type,
            inference_ami_version=endpoint.inference_ami_version,
            # Generation times vary by orders of magnitude; route to the least busy instance (or copy).
            routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                routing_strategy="LEAST_OUTSTANDING_REQUESTS"
            ),
            **mode_specific,  # type: ignore[arg-type]
        )

    def _endpoint_config(
        self,
        variant: sagemaker.CfnEndpointConfig.ProductionVariantProperty,
        execution_role_arn: str | None = None,
    ) -> sagemaker.CfnEndpointConfig:
        endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config", production_variants=[variant], execution_role_arn=execution_role_arn
        )
        nag.acknowledge(
            endpoint_config,
            nag.compliance_rule("SageMakerEndpointConfigurationKMSKeyConfigured", _NVME_KMS_REASON),
        )
        return endpoint_config

    def _single_model(
        self,
        endpoint: EndpointSettings,
        sagemaker_model: sagemaker.CfnModel,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        """Put the model on the variant itself; instances scale on in-flight requests per instance."""
        endpoint_config = self._endpoint_config(
            self._variant(
                endpoint,
                model_name=sagemaker_model.attr_model_name,
                initial_instance_count=endpoint.min_instances,
                initial_variant_weight=1,
                container_startup_health_check_timeout_in_seconds=endpoint.startup_health_check_timeout_seconds,
                model_data_download_timeout_in_seconds=endpoint.model_download_timeout_seconds,
            )
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
            deployment_config=deployment_config(endpoint, rollback_alarms),
            retain_all_variant_properties=True,
        )
        self._track_concurrency(
            f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}",
            "sagemaker:variant:DesiredInstanceCount",
            (endpoint.min_instances, endpoint.max_instances),
            _CONCURRENCY_METRIC,
            endpoint.target_concurrent_requests,
        )

    def _inference_component(
        self,
        endpoint: EndpointSettings,
        sagemaker_model: sagemaker.CfnModel,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        spec: ComponentSpec,
    ) -> None:
        """Deploy the model as an inference component on a variant without a model; copies scale, maybe to 0.

        The endpoint config carries the execution role (ExecutionRoleArn: AWS's inference-component guides
        set it on the endpoint config, whose variant has no model to carry one) and managed instance scaling,
        which may go down to zero instances (ProductionVariantManagedInstanceScaling.MinInstanceCount 0,
        "Scale an endpoint to zero instances",
        https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
        """
        # The deploy starts at least one copy, so CloudFormation's create waits for a model that really loads;
        # with min_copies 0 it is removed again after the idle time.
        initial_copies = max(1, endpoint.min_copies)
        endpoint_config = self._endpoint_config(
            self._variant(
                endpoint,
                initial_instance_count=instances_for(initial_copies, spec.copies_per_instance),
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED",
                    min_instance_count=instances_for(endpoint.min_copies, spec.copies_per_instance),
                    max_instance_count=spec.max_instances,
                ),
            ),
            execution_role_arn=self.role.role_arn,
        )
        # SageMaker checks the role when it creates the endpoint config.
        endpoint_config.node.add_dependency(self.role)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=True,
        )
        component = sagemaker.CfnInferenceComponent(
            self,
            "Component",
            inference_component_name=spec.name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=VARIANT_NAME,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=sagemaker_model.attr_model_name,
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    model_data_download_timeout_in_seconds=endpoint.model_download_timeout_seconds,
                    container_startup_health_check_timeout_in_seconds=(
                        endpoint.startup_health_check_timeout_seconds
                    ),
                ),
                compute_resource_requirements=(
                    sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                        number_of_accelerator_devices_required=spec.accelerators,
                        min_memory_required_in_mb=spec.memory_mb,
                    )
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=initial_copies
            ),
            deployment_config=component_deployment_config(endpoint, rollback_alarms),
        )
        self.component = component
        self._scale_copies(endpoint, component, spec.name)

    def _scale_copies(
        self, endpoint: EndpointSettings, component: sagemaker.CfnInferenceComponent, name: str
    ) -> None:
        """Copy-count autoscaling: target tracking, and with min_copies 0 scale-out from and scale-in to zero.

        Target tracking cannot scale out from zero copies (there is no per-copy metric without a copy), so a
        step policy starts a copy when the component refuses a request for lack of capacity
        (NoCapacityInvocationFailures), as AWS documents for scale to zero. Scale-in to zero is a second step
        policy on an idle alarm, so the idle time is exactly the configured one; target tracking then only
        scales out, or it would remove the last copy on its own schedule.

        Both step policies set an exact count. An alarm's Auto Scaling action runs again while the alarm stays
        in ALARM, not only on the transition ("Except for Auto Scaling actions, the actions happen only on
        state transitions", CloudWatch User Guide, "Alarm actions"), and a step scale-out adds again once its
        cooldown ends (Application Auto Scaling API, StepScalingPolicyConfiguration.Cooldown). A warm-up takes
        5-15 minutes, during which refused requests keep the scale-out alarm in ALARM: "add one copy" would
        climb to max_copies, "exactly one copy" asks for the one copy the first request needs (target tracking
        adds more once it has a copy to measure). The agent's own request for a copy is that same one copy
        (lambda/agent_api/warming.py).
        """
        scales_to_zero = endpoint.min_copies == 0
        target = self._track_concurrency(
            f"inference-component/{name}",
            "sagemaker:inference-component:DesiredCopyCount",
            (endpoint.min_copies, endpoint.max_copies),
            _COPY_CONCURRENCY_METRIC,
            endpoint.target_concurrent_requests,
            disable_scale_in=scales_to_zero,
        )
        # The component's name is not one of its attributes (Ref is its ARN): order the target explicitly.
        target.node.add_dependency(component)
        if not scales_to_zero:
            return
        dimensions = {"InferenceComponentName": name}

        def metric(metric_name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=metric_name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=Duration.minutes(1),
            )

        def step(construct_id: str, kind: autoscaling.AdjustmentType) -> autoscaling.StepScalingAction:
            return autoscaling.StepScalingAction(
                self,
                construct_id,
                scaling_target=target,
                adjustment_type=kind,
                metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
                cooldown=Duration.minutes(1),
            )

        refused = metric("NoCapacityInvocationFailures", "Maximum")
        wake = step("ScaleOutFromZero", autoscaling.AdjustmentType.EXACT_CAPACITY)
        wake.add_adjustment(adjustment=1, lower_bound=0)
        no_capacity = refused.create_alarm(
            self,
            "NoCapacityAlarm",
            alarm_description=f"{name} refused a request at zero copies: start one",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        no_capacity.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(wake))

        # Idle: no request served and none refused; no data (nothing sent at all) counts as idle too.
        requests = cloudwatch.MathExpression(
            expression="FILL(served, 0) + FILL(refused, 0)",
            using_metrics={
                "served": metric("Invocations", "Sum"),
                "refused": metric("NoCapacityInvocationFailures", "Sum"),
            },
            period=Duration.minutes(1),
            label="Requests served or refused",
        )
        to_zero = step("ScaleInToZero", autoscaling.AdjustmentType.EXACT_CAPACITY)
        to_zero.add_adjustment(adjustment=0, upper_bound=0)
        idle = requests.create_alarm(
            self,
            "IdleAlarm",
            alarm_description=(
                f"{name} had no request for {endpoint.scale_to_zero_idle_minutes} minutes: remove every copy"
            ),
            threshold=0,
            evaluation_periods=endpoint.scale_to_zero_idle_minutes,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        idle.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(to_zero))

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

    def _track_concurrency(
        self,
        resource_id: str,
        scalable_dimension: str,
        capacity: tuple[int, int],
        predefined_metric: autoscaling.PredefinedMetric,
        target_value: int,
        *,
        disable_scale_in: bool = False,
    ) -> autoscaling.ScalableTarget:
        """Register a scalable target tracking in-flight requests (docs/deploy.md: why not invocations)."""
        target = autoscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=scalable_dimension,
            min_capacity=capacity[0],
            max_capacity=capacity[1],
        )
        target.scale_to_track_metric(
            "ConcurrentRequests",
            predefined_metric=predefined_metric,
            target_value=target_value,
            disable_scale_in=disable_scale_in,
            # A new GPU instance needs many minutes to load an 8B model: scale out early, scale in slowly.
            scale_out_cooldown=Duration.minutes(5),
            scale_in_cooldown=Duration.minutes(15),
        )
        return target

    @property
    def endpoint_arn(self) -> str:
        """ARN of the endpoint (SageMaker lower-cases the name inside ARNs)."""
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke exactly this endpoint (and its component), buffered or streaming.

        In inference-component mode the component's ARN is listed beside the endpoint's: whether SageMaker
        also authorizes an invocation naming a component against the component could not be confirmed offline
        (docs/deploy.md), and listing it grants nothing beyond this one model.
        """
        arns = [self.endpoint_arn]
        if self.component is not None:
            arns.append(self.component.attr_inference_component_arn)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=arns,
        )

    def grant_wake(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Allow ``grantee`` to read its component's state and set its copy count (to wake it from zero)."""
        if self.component is None:
            return None
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:DescribeInferenceComponent",
                "sagemaker:UpdateInferenceComponentRuntimeConfig",
            ],
            resource_arns=[self.component.attr_inference_component_arn],
        )
