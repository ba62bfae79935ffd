"""The stack's alarms that watch for trouble (not those driving autoscaling): state, history, subscribers.

An alarm notifies through the SNS topics among its alarm actions, whichever topic that is (the stack's own, or
one the environment names); a topic notifies someone only through a confirmed subscription: until its owner
confirms it, ListSubscriptionsByTopic shows the subscription as ``PendingConfirmation``
(SNS API Reference, Subscription.SubscriptionArn).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ops.doctor.account import Account
from ops.doctor.findings import Finding, Status, duration, plural, when
from ops.doctor.stack import ALARM, DASHBOARD, DeployedStack
from stacks.config import EnvironmentConfig

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef

_PENDING = "PendingConfirmation"


def _topics(alarm: MetricAlarmTypeDef) -> list[str]:
    return [action for action in alarm.get("AlarmActions", []) if action.split(":")[2:3] == ["sns"]]


def _scales(alarm: MetricAlarmTypeDef) -> bool:
    """Whether the alarm drives autoscaling (its action is a scaling policy; the scaling checks judge it)."""
    return any(action.split(":")[2:3] == ["autoscaling"] for action in alarm.get("AlarmActions", []))


def check_alarms(account: Account, config: EnvironmentConfig, stack: DeployedStack) -> Iterator[Finding]:
    """Each watching alarm in ALARM, the ones that fired in the window, and who their topics notify."""
    described = account.alarms(stack.physical_ids(ALARM))
    watching = {name: alarm for name, alarm in described.items() if not _scales(alarm)}
    dashboards = stack.physical_ids(DASHBOARD)
    region = account.clients.region
    look = (
        f"open the dashboard https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{dashboards[0]} and read the error lines below"
        if dashboards
        else "read the error lines below"
    )
    fired: list[str] = []
    for name, alarm in sorted(watching.items()):
        changes = account.state_changes(name)
        times = [change.at for change in changes if change.state == "ALARM"]
        description = alarm.get("AlarmDescription", "no description")
        if alarm["StateValue"] == "ALARM":
            entered = alarm.get("StateTransitionedTimestamp") or alarm["StateUpdatedTimestamp"]
            yield Finding(
                Status.FAIL,
                f"alarm {name}",
                f"in ALARM since {when(entered)} ({duration(account.now - entered)}): {description}",
                look,
                (alarm.get("StateReason", ""),),
            )
        elif times:
            fired.append(f"{name}: {plural(len(times), 'time')}, last at {when(times[-1])} ({description})")
        if not alarm.get("ActionsEnabled", True):
            yield Finding(
                Status.WARN,
                f"alarm {name}",
                "its actions are disabled: it notifies nobody",
                f"aws cloudwatch enable-alarm-actions --alarm-names {name}",
            )
    window = duration(account.window)
    if fired:
        yield Finding(
            Status.WARN,
            "alarm history",
            f"{plural(len(fired), 'alarm')} went to ALARM in the last {window} and recovered",
            f"nothing now; if it recurs, {look}",
            tuple(fired),
        )
    elif watching:
        watched = plural(len(watching), "alarm")
        yield Finding(Status.OK, "alarm history", f"no alarm fired in the last {window} ({watched} watching)")
    yield from _subscribers(account, config, watching)


def _subscribers(
    account: Account, config: EnvironmentConfig, watching: dict[str, MetricAlarmTypeDef]
) -> Iterator[Finding]:
    """Whether the alarms' topics have a confirmed subscriber."""
    subject = "alarm notifications"
    silent = sorted(name for name, alarm in watching.items() if not _topics(alarm))
    if silent:
        yield Finding(
            Status.WARN,
            subject,
            f"no SNS topic among the actions of {', '.join(silent)}: nobody hears of them",
            f"cdk deploy -c env={config.name} to restore their actions",
        )
    topics = sorted({topic for alarm in watching.values() for topic in _topics(alarm)})
    subscribe = (
        "set monitoring.alarm_email in cdk.json and cdk deploy -c env={env}, or subscribe yourself: "
        "aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint you@example.com"
    )
    for topic in topics:
        pages = account.clients.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        subscriptions = [s for page in pages for s in page["Subscriptions"]]
        confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
        pending = [s for s in subscriptions if s.get("SubscriptionArn") == _PENDING]
        if confirmed:
            protocols = ", ".join(sorted({s.get("Protocol", "?") for s in confirmed}))
            yield Finding(
                Status.OK,
                subject,
                f"{topic} has {plural(len(confirmed), 'confirmed subscriber')} ({protocols})",
            )
        elif pending:
            endpoints = ", ".join(s.get("Endpoint", "?") for s in pending)
            yield Finding(
                Status.WARN,
                subject,
                f"{topic} has no confirmed subscriber ({endpoints} did not confirm): the alarms reach nobody",
                "follow the link in the confirmation e-mail from AWS Notifications; its token is valid for "
                "three days (SNS API Reference, Subscribe), after that send a new one: aws sns subscribe "
                f"--topic-arn {topic} --protocol email --notification-endpoint <address>",
            )
        else:
            yield Finding(
                Status.WARN,
                subject,
                f"{topic} has no subscriber, so the alarms reach nobody",
                subscribe.format(env=config.name, topic=topic),
            )
