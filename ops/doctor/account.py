"""The doctor's read-only view of one account and region: its clients, the time window, and shared reads.

Several checks need the same endpoint, component or alarms; :class:`Account` reads each once per run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import (
        DescribeEndpointOutputTypeDef,
        DescribeInferenceComponentOutputTypeDef,
    )
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

# DescribeAlarms takes at most 100 alarm names a call (botocore's CloudWatch model: AlarmNames, max 100).
_ALARM_NAMES_PER_CALL = 100
# Alarm state changes kept per alarm: enough to tell a flapping alarm from a stuck one.
_HISTORY_ITEMS = 100
# Action runs shown for an alarm whose scaling did not follow: the newest tell why.
_ACTION_RUNS = 3


@dataclass(frozen=True)
class Clients:
    """The AWS clients the doctor reads with, all in the environment's region."""

    region: str
    sts: STSClient
    cloudformation: CloudFormationClient
    sagemaker: SageMakerClient
    autoscaling: ApplicationAutoScalingClient
    cloudwatch: CloudWatchClient
    logs: CloudWatchLogsClient
    sns: SNSClient
    lambda_: LambdaClient


def make_clients(region: str) -> Clients:
    """Real clients of the default credentials chain in ``region``."""
    import boto3

    session = boto3.session.Session(region_name=region)
    return Clients(
        region=region,
        sts=session.client("sts"),
        cloudformation=session.client("cloudformation"),
        sagemaker=session.client("sagemaker"),
        autoscaling=session.client("application-autoscaling"),
        cloudwatch=session.client("cloudwatch"),
        logs=session.client("logs"),
        sns=session.client("sns"),
        lambda_=session.client("lambda"),
    )


@dataclass(frozen=True)
class StateChange:
    """One alarm state change: when, and the state it entered."""

    at: datetime
    state: str


@dataclass(frozen=True)
class ActionRun:
    """One run of an alarm's action: when, CloudWatch's summary of it, and the target's error, if any.

    The summary reads "Successfully executed action ..." or "Failed to execute action ...".
    """

    at: datetime
    summary: str
    error: str | None


@dataclass
class Account:
    """The clients, the moment of the check and the window looked back over, and the reads checks share."""

    clients: Clients
    now: datetime
    window: timedelta
    _endpoints: dict[str, DescribeEndpointOutputTypeDef] = field(default_factory=dict, init=False, repr=False)
    _components: dict[str, DescribeInferenceComponentOutputTypeDef] = field(
        default_factory=dict, init=False, repr=False
    )
    _alarms: dict[str, MetricAlarmTypeDef] = field(default_factory=dict, init=False, repr=False)
    _history: dict[str, list[StateChange]] = field(default_factory=dict, init=False, repr=False)

    @property
    def since(self) -> datetime:
        """The start of the window the report covers."""
        return self.now - self.window

    def endpoint(self, name: str) -> DescribeEndpointOutputTypeDef:
        """DescribeEndpoint, once per run."""
        if name not in self._endpoints:
            self._endpoints[name] = self.clients.sagemaker.describe_endpoint(EndpointName=name)
        return self._endpoints[name]

    def component(self, name: str) -> DescribeInferenceComponentOutputTypeDef:
        """DescribeInferenceComponent, once per run."""
        if name not in self._components:
            self._components[name] = self.clients.sagemaker.describe_inference_component(
                InferenceComponentName=name
            )
        return self._components[name]

    def alarms(self, names: Iterable[str]) -> dict[str, MetricAlarmTypeDef]:
        """Return the metric alarms of these names that exist, by name (DescribeAlarms, each read once)."""
        wanted = list(dict.fromkeys(names))
        missing = [name for name in wanted if name not in self._alarms]
        for start in range(0, len(missing), _ALARM_NAMES_PER_CALL):
            chunk = missing[start : start + _ALARM_NAMES_PER_CALL]
            pages = self.clients.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=chunk, AlarmTypes=["MetricAlarm"]
            )
            for page in pages:
                for alarm in page.get("MetricAlarms", []):
                    self._alarms[alarm["AlarmName"]] = alarm
        return {name: self._alarms[name] for name in wanted if name in self._alarms}

    def state_changes(self, alarm_name: str) -> list[StateChange]:
        """Return the alarm's state changes in the window, oldest first (DescribeAlarmHistory)."""
        if alarm_name not in self._history:
            items = self.clients.cloudwatch.describe_alarm_history(
                AlarmName=alarm_name,
                HistoryItemType="StateUpdate",
                StartDate=self.since,
                EndDate=self.now,
                MaxRecords=_HISTORY_ITEMS,
                ScanBy="TimestampDescending",
            )["AlarmHistoryItems"]
            changes = [
                StateChange(item["Timestamp"], state)
                for item in items
                if "Timestamp" in item
                and (state := _new_state(item.get("HistoryData"), item.get("HistorySummary")))
            ]
            self._history[alarm_name] = sorted(changes, key=lambda change: change.at)
        return self._history[alarm_name]

    def action_runs(self, alarm_name: str) -> list[ActionRun]:
        """Return the newest runs of the alarm's actions in the window, oldest first (Action history items).

        A scaling policy that refuses to act says why here, e.g. Application Auto Scaling's "No step
        adjustment found for metric value ..." in the item's HistoryData ``error``.
        """
        items = self.clients.cloudwatch.describe_alarm_history(
            AlarmName=alarm_name,
            HistoryItemType="Action",
            StartDate=self.since,
            EndDate=self.now,
            MaxRecords=_ACTION_RUNS,
            ScanBy="TimestampDescending",
        )["AlarmHistoryItems"]
        runs = [
            ActionRun(
                item["Timestamp"], item.get("HistorySummary", ""), _action_error(item.get("HistoryData"))
            )
            for item in items
            if "Timestamp" in item
        ]
        return sorted(runs, key=lambda run: run.at)


def _action_error(data: str | None) -> str | None:
    """Return the error of an Action history item's HistoryData, if it has one."""
    try:
        error = json.loads(data or "").get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, str) else None


def _new_state(data: str | None, summary: str | None) -> str | None:
    """Return the state a StateUpdate history item entered.

    Its HistoryData is JSON with ``newState.stateValue``, its summary reads "Alarm updated from OK to ALARM"
    (the example of ``aws cloudwatch describe-alarm-history`` in the AWS CLI reference).
    """
    try:
        state = json.loads(data or "")["newState"]["stateValue"]
    except (ValueError, KeyError, TypeError):
        state = None
    if isinstance(state, str):
        return state
    if summary and " to " in summary:
        return summary.rsplit(" to ", 1)[1].strip()
    return None
