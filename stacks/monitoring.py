"""Alarms (endpoint 5XX, model latency, GPU memory) to an encrypted SNS topic, and an operations dashboard."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import MonitoringSettings
from stacks.inference.construct import VARIANT_NAME

_PERIOD = Duration.minutes(5)
# SageMaker reports ModelLatency in microseconds and GPU memory as percent summed over the instance's GPUs.
_MICROSECONDS = 1_000_000


class EndpointMonitoring(Construct):
    """CloudWatch alarms and dashboard for the endpoint and the agent function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringSettings,
        gpu_count: int,
        endpoint_name: str,
        agent_function: lambda_.IFunction,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        dimensions = {"EndpointName": endpoint_name, "VariantName": VARIANT_NAME}

        def endpoint_metric(name: str, statistic: str, namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=_PERIOD,
            )

        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        # CloudWatch must be able to use the topic's key to publish alarm notifications, for this account's
        # alarms only (confused-deputy conditions: https://docs.aws.amazon.com/AmazonCloudWatch/latest/
        # monitoring/Notify_Users_Alarm_Changes.html#Notify_Users_Alarm_Changes_SNS_Encryption).
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
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))

        errors = endpoint_metric("Invocation5XXErrors", "Sum")
        latency = endpoint_metric("ModelLatency", "p90")
        gpu_memory = endpoint_metric("GPUMemoryUtilization", "Maximum", "/aws/sagemaker/Endpoints")
        gpu_utilization = endpoint_metric("GPUUtilization", "Average", "/aws/sagemaker/Endpoints")
        self.alarms = [
            errors.create_alarm(
                self,
                "Endpoint5xx",
                alarm_description=f"{endpoint_name} answered 5XX (container or engine errors)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            latency.create_alarm(
                self,
                "ModelLatencyP90",
                alarm_description=f"p90 model latency above {settings.model_latency_p90_seconds}s",
                threshold=settings.model_latency_p90_seconds * _MICROSECONDS,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            gpu_memory.create_alarm(
                self,
                "GpuMemory",
                alarm_description=f"GPU memory above {settings.gpu_memory_percent}% per GPU",
                threshold=settings.gpu_memory_percent * gpu_count,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.hours(3),
            widgets=[
                [
                    cloudwatch.GraphWidget(
                        title="Invocations and 5XX",
                        left=[endpoint_metric("Invocations", "Sum")],
                        right=[errors, endpoint_metric("Invocation4XXErrors", "Sum")],
                    ),
                    cloudwatch.GraphWidget(
                        title="Model latency p50/p90 (µs)",
                        left=[endpoint_metric("ModelLatency", "p50"), latency],
                    ),
                    cloudwatch.GraphWidget(
                        title="Concurrent requests and CPU",
                        left=[endpoint_metric("ConcurrentRequestsPerModel", "Maximum")],
                        right=[endpoint_metric("CPUUtilization", "Average", "/aws/sagemaker/Endpoints")],
                    ),
                ],
                [
                    cloudwatch.GraphWidget(
                        title=f"GPU memory and utilization (% x {gpu_count} GPUs)",
                        left=[gpu_memory, gpu_utilization],
                    ),
                    cloudwatch.GraphWidget(
                        title="Agent function",
                        left=[agent_function.metric_invocations(), agent_function.metric_errors()],
                        right=[agent_function.metric_duration(statistic="p90")],
                    ),
                    cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms),
                ],
            ],
        )
