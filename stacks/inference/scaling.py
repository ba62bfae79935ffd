"""Autoscaling of the endpoint: instances of a single-model variant, or copies of an inference component.

Both track in-flight requests (docs/deploy.md, "Scaling metric"). A component that may scale to zero follows
AWS's recipe in "Scale an endpoint to zero instances"
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html): target tracking
whose scalable target has a minimum of 0, so it scales in to zero like any other scale-in, and one step
scaling policy on ``NoCapacityInvocationFailures`` only to scale out from zero, where target tracking has no
per-copy metric to act on. Nothing here acts on missing data.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.config import EndpointSettings
from stacks.inference.hosting import VARIANT_NAME

_INSTANCE_CONCURRENCY = (
    autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
)
_COPY_CONCURRENCY = (
    autoscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION
)
# A new GPU instance or copy needs many minutes to load an 8B model: scale out early, scale in slowly.
SCALE_OUT_COOLDOWN = Duration.minutes(5)
SCALE_IN_COOLDOWN = Duration.minutes(15)
WAKE_COOLDOWN = Duration.minutes(1)


def scale_instances(
    scope: Construct, *, endpoint: sagemaker.CfnEndpoint, settings: EndpointSettings
) -> autoscaling.ScalableTarget:
    """Scale the single-model variant's instances between min_instances and max_instances."""
    return _track_concurrency(
        scope,
        resource_id=f"endpoint/{endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        capacity=(settings.min_instances, settings.max_instances),
        metric=_INSTANCE_CONCURRENCY,
        target_value=settings.target_concurrent_requests,
    )


def scale_copies(
    scope: Construct,
    *,
    component: sagemaker.CfnInferenceComponent,
    component_name: str,
    settings: EndpointSettings,
) -> autoscaling.ScalableTarget:
    """Scale the component's copies between min_copies and max_copies; from zero too when min_copies is 0.

    With a minimum of 0, target tracking removes the last copy when no request has been in flight for its
    scale-in alarm's evaluation time: AWS's example describes the alarm as "using 90 sub-minute data
    points", 15 minutes, and the copy going "after about 10 to 15 minutes" without requests
    (aws-samples/sagemaker-genai-hosting-examples, scale-to-zero-endpoint/
    llama3-8b-scale-to-zero-autoscaling.ipynb). Scale-in needs that metric's data: it never acts on its
    absence (docs/deploy.md, "Scale to zero", says when a copy is removed).
    """
    target = _track_concurrency(
        scope,
        resource_id=f"inference-component/{component_name}",
        scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
        capacity=(settings.min_copies, settings.max_copies),
        metric=_COPY_CONCURRENCY,
        target_value=settings.target_concurrent_requests,
    )
    # The component's name is not one of its attributes (Ref is its ARN): order the target explicitly.
    target.node.add_dependency(component)
    if settings.min_copies == 0:
        _scale_out_from_zero(scope, target, component_name)
    return target


def _scale_out_from_zero(scope: Construct, target: autoscaling.ScalableTarget, component_name: str) -> None:
    """Start exactly one copy when the component refuses a request for lack of one.

    A step policy on NoCapacityInvocationFailures, as AWS documents, but setting the copy count to exactly 1
    rather than adding one: an alarm's Auto Scaling action runs again while the alarm stays in ALARM ("Except
    for Auto Scaling actions, the actions happen only on state transitions", CloudWatch User Guide, "Alarm
    actions"), and a step scale-out adds again once its cooldown ends (Application Auto Scaling API,
    StepScalingPolicyConfiguration.Cooldown). A warm-up takes 5-15 minutes, during which refused requests
    keep the alarm in ALARM: "add one copy" would climb to max_copies, "exactly one" asks for the one copy
    the first request needs; target tracking adds more once it has a copy to measure. The agent's own
    request for a copy is that same one copy (lambda/agent_api/warming.py).

    The alarm treats missing data (no refusal) as not breaching: it acts on refusals, never on silence.
    """
    wake = autoscaling.StepScalingAction(
        scope,
        "ScaleOutFromZero",
        scaling_target=target,
        adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
        metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
        cooldown=WAKE_COOLDOWN,
    )
    wake.add_adjustment(adjustment=1, lower_bound=0)
    refused = cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name="NoCapacityInvocationFailures",
        dimensions_map={"InferenceComponentName": component_name},
        statistic="Maximum",
        period=Duration.minutes(1),
    )
    alarm = refused.create_alarm(
        scope,
        "NoCapacityAlarm",
        alarm_description=f"{component_name} refused a request at zero copies: start one",
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(wake))


def _track_concurrency(
    scope: Construct,
    *,
    resource_id: str,
    scalable_dimension: str,
    capacity: tuple[int, int],
    metric: autoscaling.PredefinedMetric,
    target_value: int,
) -> autoscaling.ScalableTarget:
    """Register a scalable target tracking in-flight requests (docs/deploy.md: why not invocations)."""
    target = autoscaling.ScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
        resource_id=resource_id,
        scalable_dimension=scalable_dimension,
        min_capacity=capacity[0],
        max_capacity=capacity[1],
    )
    target.scale_to_track_metric(
        "ConcurrentRequests",
        predefined_metric=metric,
        target_value=target_value,
        scale_out_cooldown=SCALE_OUT_COOLDOWN,
        scale_in_cooldown=SCALE_IN_COOLDOWN,
    )
    return target
