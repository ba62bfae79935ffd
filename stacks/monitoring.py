"""Alarms (endpoint, agent function, API) to an SNS topic, and an operations dashboard.

The topic is the stack's own, encrypted, with ``monitoring.alarm_email`` subscribed, or an existing topic
named by ``monitoring.alarm_topic_arn`` (docs/deploy.md, "Alarms"); ``make preflight`` warns when the
alarms would reach no one.

The endpoint's alarms exist before the endpoint: its rollouts roll back when one of ``rollback_alarms``
fires (``stacks/rollout.py``), so they watch the endpoint by the name it will have.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.agent_api.lambda_contract import contract
from stacks.config import MonitoringSettings
from stacks.inference.hosting import VARIANT_NAME

_PERIOD = Duration.minutes(5)
# SageMaker reports ModelLatency in microseconds, and instance metrics as percent summed over the GPUs.
_MICROSECONDS = 1_000_000
_INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"


class Monitoring(Construct):
    """The alarm topic, the endpoint's and the agent's alarms, and one dashboard for both."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringSettings,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.topic = self._alarm_topic(settings, key)
        self.alarms: list[cloudwatch.Alarm] = []
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))

    def _alarm_topic(self, settings: MonitoringSettings, key: kms.IKey) -> sns.ITopic:
        """Return the topic alarms notify: the configured one, or the stack's own, encrypted with ``key``."""
        if settings.alarm_topic_arn is not None:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", settings.alarm_topic_arn)
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        # CloudWatch must be able to use the topic's key to publish alarm notifications ("Enable compatibility
        # between event sources from AWS services and encrypted topics": https://docs.aws.amazon.com/sns/
        # latest/dg/sns-key-management.html#compatibility-with-aws-services), for this account's alarms only
        # (aws:SourceAccount and aws:SourceArn against the confused deputy).
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                        )
                    },
                },
            )
        )
        if settings.alarm_email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        return topic

    def _alarm(
        self,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        construct_id: str,
        description: str,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> cloudwatch.Alarm:
        """Add an alarm on ``metric`` notifying the topic (by default: any error in a period)."""
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison,
            # No data (no traffic, or the endpoint not yet created) is not a breach.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def watch_endpoint(
        self, endpoint_name: str, gpu_count: int, inference_component_name: str | None = None
    ) -> list[cloudwatch.IAlarm]:
        """Alarm on the endpoint's errors and latency; return the error alarms a rollout rolls back on.

        With an inference component, SageMaker reports the invocation metrics per component (dimension
        InferenceComponentName, "Inference component metrics" in the SageMaker guide's CloudWatch metrics
        page), and instance metrics stay per endpoint and variant.

        No GPU-memory alarm: vLLM and SGLang reserve a fixed share of each GPU's memory for weights and KV
        cache at start-up (vLLM's ``--gpu-memory-utilization``, 0.9 by default; SGLang's
        ``--mem-fraction-static``), so GPUMemoryUtilization sits near that share whatever the load. KV-cache
        pressure shows as latency (the ModelLatency alarm) and queued requests (ConcurrentRequestsPerModel
        on the dashboard).
        """
        variant = {"EndpointName": endpoint_name, "VariantName": VARIANT_NAME}
        invocations = (
            variant
            if inference_component_name is None
            else {"InferenceComponentName": inference_component_name}
        )
        watched = inference_component_name or endpoint_name
        concurrency = (
            "ConcurrentRequestsPerModel" if inference_component_name is None else "ConcurrentRequestsPerCopy"
        )

        def metric(name: str, statistic: str, namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=variant if namespace == _INSTANCE_NAMESPACE else invocations,
                statistic=statistic,
                period=_PERIOD,
            )

        server_errors = metric("Invocation5XXErrors", "Sum")
        model_errors = metric("InvocationModelErrors", "Sum")
        latency = metric("ModelLatency", "p90")
        rollback = [
            self._alarm(server_errors, "Endpoint5xx", f"{watched} answered 5XX (container or engine errors)"),
            self._alarm(model_errors, "EndpointModelErrors", f"{watched}'s container answered with an error"),
        ]
        latency_seconds = self._settings.model_latency_p90_seconds
        self._alarm(
            latency,
            "ModelLatencyP90",
            f"p90 model latency of {watched} above {latency_seconds}s",
            threshold=latency_seconds * _MICROSECONDS,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations and errors",
                left=[metric("Invocations", "Sum")],
                right=[server_errors, model_errors, metric("Invocation4XXErrors", "Sum")],
            ),
            cloudwatch.GraphWidget(
                title="Model latency p50/p90 (µs)", left=[metric("ModelLatency", "p50"), latency]
            ),
            cloudwatch.GraphWidget(
                title="Concurrent requests and CPU",
                left=[metric(concurrency, "Maximum")],
                right=[metric("CPUUtilization", "Average", _INSTANCE_NAMESPACE)],
            ),
            cloudwatch.GraphWidget(
                title=f"GPU memory and utilization (% x {gpu_count} GPUs)",
                left=[
                    metric("GPUMemoryUtilization", "Maximum", _INSTANCE_NAMESPACE),
                    metric("GPUUtilization", "Average", _INSTANCE_NAMESPACE),
                ],
            ),
        )
        return list(rollback)

    def watch_agent(
        self, function: lambda_.IFunction, api: apigateway.RestApi, metrics_namespace: str
    ) -> None:
        """Alarm on the agent function's errors and throttles and the API's 5XX; finish the dashboard.

        The agent API's `503 model_warming` refusals (a model scaled to zero waking: expected, and answered
        with Retry-After) are counted by the app in ``metrics_namespace`` and left out of the 5XX alarm, which
        would otherwise fire on every such request.
        """
        errors = function.metric_errors(period=_PERIOD, statistic="Sum")
        throttles = function.metric_throttles(period=_PERIOD, statistic="Sum")
        api_errors = api.metric_server_error(period=_PERIOD, statistic="Sum")
        warming_refusals = cloudwatch.Metric(
            namespace=metrics_namespace,
            metric_name=contract.MODEL_WARMING_REFUSALS_METRIC,
            dimensions_map={"service": contract.SERVICE_NAME},
            statistic="Sum",
            period=_PERIOD,
        )
        unexpected_api_errors = cloudwatch.MathExpression(
            expression="FILL(api5xx, 0) - FILL(warming, 0)",
            using_metrics={"api5xx": api_errors, "warming": warming_refusals},
            period=_PERIOD,
            label="5XX answers other than model_warming",
        )
        self._alarm(errors, "AgentErrors", "The agent function failed (uncaught error or timeout)")
        self._alarm(throttles, "AgentThrottles", "The agent function was throttled (concurrency limit)")
        self._alarm(
            unexpected_api_errors, "Api5xx", "The agent API answered 5XX (other than 503 model_warming)"
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Agent function",
                left=[function.metric_invocations(), errors, throttles],
                right=[function.metric_duration(statistic="p90")],
            ),
            cloudwatch.GraphWidget(
                title="Agent API", left=[api.metric_count(), api_errors, warming_refusals]
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms)),
        )

    def watch_turns(self, metrics_namespace: str) -> None:
        """Chart what each turn used (tokens in and out, tool calls) and the turns whose client went away.

        The app writes one value per answered turn (agent_api.observability), so a period's average is the
        average turn and its sum the total; ``Cancelled`` counts the turns stopped when their client left.
        """

        def metric(name: str, statistic: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name=name,
                dimensions_map={"service": contract.SERVICE_NAME},
                statistic=statistic,
                period=_PERIOD,
                label=label,
            )

        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tokens per turn",
                left=[
                    metric(contract.INPUT_TOKENS_METRIC, "Average", "input tokens (average)"),
                    metric(contract.OUTPUT_TOKENS_METRIC, "Average", "output tokens (average)"),
                ],
                right=[
                    metric(contract.INPUT_TOKENS_METRIC, "p90", "input tokens (p90)"),
                    metric(contract.OUTPUT_TOKENS_METRIC, "p90", "output tokens (p90)"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Tool calls per turn",
                left=[metric(contract.TOOL_CALLS_METRIC, "Average", "tool calls (average)")],
                right=[metric(contract.TOOL_CALLS_METRIC, "Maximum", "tool calls (most in one turn)")],
            ),
            cloudwatch.GraphWidget(
                title="Turns answered and cancelled",
                left=[
                    metric(contract.OUTPUT_TOKENS_METRIC, "SampleCount", "turns answered"),
                    metric(contract.CANCELLED_METRIC, "Sum", "turns cancelled (client gone)"),
                ],
            ),
        )
