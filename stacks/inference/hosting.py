"""What hosts the model: the SageMaker model, the endpoint config, the endpoint and the inference component.

Each function builds into the scope it is given, under the construct ids the stack has always used, so
refactoring never changes a logical id (a new logical id makes CloudFormation create a resource anew).
How updates of each resource behave is in docs/deploy.md, "What an update does".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks import nag, rollout
from stacks.config import EndpointSettings, ModelSettings, instances_for
from stacks.inference.serving_contract import serving

VARIANT_NAME = "AllTraffic"
MODEL_DIR = "/opt/ml/model"
_NVME_KMS_REASON = (
    "SageMaker rejects KmsKeyId for GPU instances with local NVMe storage (g5, g6, g6e, p4d, p5), whose "
    "instance storage AWS encrypts in hardware."
)


@dataclass(frozen=True)
class ComponentSpec:
    """An inference component: its name, what one copy reserves, and the instances all copies may need."""

    name: str
    accelerators: int  # GPUs per copy: the tensor-parallel degree
    memory_mb: int  # host memory per copy (MinMemoryRequiredInMb)
    copies_per_instance: int
    max_instances: int  # managed instance scaling's MaxInstanceCount

    @property
    def log_group_name(self) -> str:
        """Where SageMaker writes the component's container logs.

        Not the endpoint's group: AWS's own examples read a component's logs from
        ``/aws/sagemaker/InferenceComponents/<component name>`` (aws-samples/sagemaker-genai-hosting-examples,
        04-workshops/advanced_hosting/multi_adapter/multi_adapter_hosting.ipynb, "View logs for the base
        inference component").
        """
        return f"/aws/sagemaker/InferenceComponents/{self.name}"


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


def sagemaker_model(
    scope: Construct,
    *,
    role: iam.IRole,
    image_uri: str,
    model: ModelSettings,
    tp_degree: int,
    model_data_source: sagemaker.CfnModel.ModelDataSourceProperty | None,
) -> sagemaker.CfnModel:
    """Build the SageMaker model: the serving image with its SERVE_* environment, run by the execution role.

    Every property of a model is create-only, so any change (a new image tag, a model setting) makes a new
    model, and the endpoint config or component that names it rolls out.
    """
    built = sagemaker.CfnModel(
        scope,
        "Model",
        execution_role_arn=role.role_arn,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri,
            environment=serving_environment(model, tp_degree),
            model_data_source=model_data_source,
        ),
    )
    # The role's policy must exist before SageMaker validates the image pull.
    built.node.add_dependency(role)
    return built


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
) -> sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty | None:
    """Return a rolling update of the component's copies, or ``None`` where no rolling batch is allowed.

    A rolling batch must be "between 5% to 50% of the copy count" (InferenceComponentRollingUpdatePolicy,
    SageMaker API reference), which no batch of a component at one copy or at zero copies is; and a
    deployment config cannot leave the rolling policy out (botocore: InferenceComponentDeploymentConfig
    requires RollingUpdatePolicy). Below ``rollout.MIN_ROLLING_COPIES`` copies the update therefore has no
    deployment config and SageMaker updates the component the way it did before rolling updates existed:
    blue/green, the new copies started beside the old ones (``stacks/rollout.py``).
    """
    if not rollout.is_rolling_component(endpoint):
        return None
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


def _variant(
    endpoint: EndpointSettings, **mode_specific: object
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
    scope: Construct,
    variant: sagemaker.CfnEndpointConfig.ProductionVariantProperty,
    execution_role_arn: str | None = None,
) -> sagemaker.CfnEndpointConfig:
    endpoint_config = sagemaker.CfnEndpointConfig(
        scope, "Config", production_variants=[variant], execution_role_arn=execution_role_arn
    )
    nag.acknowledge(
        endpoint_config,
        nag.compliance_rule("SageMakerEndpointConfigurationKMSKeyConfigured", _NVME_KMS_REASON),
    )
    return endpoint_config


def single_model_endpoint(
    scope: Construct,
    *,
    endpoint_name: str,
    endpoint: EndpointSettings,
    model: sagemaker.CfnModel,
    rollback_alarms: Sequence[cloudwatch.IAlarm],
) -> sagemaker.CfnEndpoint:
    """Build an endpoint whose one variant runs the model, updated in place by ``deployment_config``."""
    endpoint_config = _endpoint_config(
        scope,
        _variant(
            endpoint,
            model_name=model.attr_model_name,
            initial_instance_count=endpoint.min_instances,
            initial_variant_weight=1,
            container_startup_health_check_timeout_in_seconds=endpoint.startup_health_check_timeout_seconds,
            model_data_download_timeout_in_seconds=endpoint.model_download_timeout_seconds,
        ),
    )
    return sagemaker.CfnEndpoint(
        scope,
        "Endpoint",
        endpoint_name=endpoint_name,
        endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        deployment_config=deployment_config(endpoint, rollback_alarms),
        retain_all_variant_properties=True,
    )


def component_endpoint(
    scope: Construct,
    *,
    endpoint_name: str,
    endpoint: EndpointSettings,
    spec: ComponentSpec,
    role: iam.IRole,
) -> sagemaker.CfnEndpoint:
    """Build an endpoint whose variant has no model; managed instance scaling adds what copies need.

    The endpoint config carries the execution role (ExecutionRoleArn: AWS's inference-component guides
    set it on the endpoint config, whose variant has no model to carry one) and managed instance scaling,
    which may go down to zero instances (ProductionVariantManagedInstanceScaling.MinInstanceCount 0,
    "Scale an endpoint to zero instances",
    https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
    """
    endpoint_config = _endpoint_config(
        scope,
        _variant(
            endpoint,
            initial_instance_count=instances_for(initial_copies(endpoint), spec.copies_per_instance),
            managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                status="ENABLED",
                min_instance_count=instances_for(endpoint.min_copies, spec.copies_per_instance),
                max_instance_count=spec.max_instances,
            ),
        ),
        execution_role_arn=role.role_arn,
    )
    # SageMaker checks the role when it creates the endpoint config.
    endpoint_config.node.add_dependency(role)
    return sagemaker.CfnEndpoint(
        scope,
        "Endpoint",
        endpoint_name=endpoint_name,
        endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        retain_all_variant_properties=True,
    )


def initial_copies(endpoint: EndpointSettings) -> int:
    """Return the copies a deploy starts: at least one, so the create waits for a model that loads."""
    return max(1, endpoint.min_copies)


def inference_component(
    scope: Construct,
    *,
    spec: ComponentSpec,
    endpoint: EndpointSettings,
    hosted_on: sagemaker.CfnEndpoint,
    model: sagemaker.CfnModel,
    rollback_alarms: Sequence[cloudwatch.IAlarm],
) -> sagemaker.CfnInferenceComponent:
    """Deploy the model as an inference component of ``hosted_on``'s variant.

    ``scope`` must be named after the component (``InferenceEndpoint`` makes it so): the component has no
    create-only property, so CloudFormation would update a component in place even where SageMaker cannot
    (UpdateInferenceComponent can neither rename a component nor move it to another endpoint); a new name
    under a new scope is a new logical id, so CloudFormation creates the new component and deletes the old
    one in its cleanup phase.
    """
    return sagemaker.CfnInferenceComponent(
        scope,
        "Component",
        inference_component_name=spec.name,
        endpoint_name=hosted_on.attr_endpoint_name,
        variant_name=VARIANT_NAME,
        specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
            model_name=model.attr_model_name,
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
            copy_count=initial_copies(endpoint)
        ),
        deployment_config=component_deployment_config(endpoint, rollback_alarms),
    )
