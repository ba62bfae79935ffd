"""The doctor's watching alarms and their subscribers, on Stubber."""

from __future__ import annotations

from typing import Any

from ops.doctor.alarms import check_alarms
from ops.doctor.findings import Finding, Status
from ops.doctor.stack import DeployedStack, Resource
from ops.environment import load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import (
    DASHBOARD,
    ERRORS_ALARM,
    IDLE_ALARM,
    STACK,
    TOPIC,
    ago,
    alarm,
    alarms,
    history,
    policy_arn,
    subscriptions,
)

DEV = load_environment("dev")
LATENCY_ALARM = "SageMakerAgent-dev-MonitoringModelLatencyP90-1"
CONFIRMED = f"{TOPIC}:0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def deployed(*alarm_names: str, dashboard: bool = True) -> DeployedStack:
    rows = [Resource(f"Alarm{n}", name, "AWS::CloudWatch::Alarm") for n, name in enumerate(alarm_names)]
    if dashboard:
        rows.append(Resource("MonitoringDashboard", DASHBOARD, "AWS::CloudWatch::Dashboard"))
    return DeployedStack(STACK, "UPDATE_COMPLETE", {}, tuple(rows))


def run(
    stubbed: Stubbed,
    described: list[dict[str, Any]],
    histories: list[dict[str, Any]],
    topic_subscriptions: dict[str, Any] | None = None,
    names: tuple[str, ...] | None = None,
) -> list[Finding]:
    cloudwatch = stubbed.stub["cloudwatch"]
    cloudwatch.add_response("describe_alarms", alarms(*described))
    for answer in histories:
        cloudwatch.add_response("describe_alarm_history", answer)
    if topic_subscriptions is not None:
        stubbed.stub["sns"].add_response(
            "list_subscriptions_by_topic", topic_subscriptions, {"TopicArn": TOPIC}
        )
    stack = deployed(*(names or tuple(a["AlarmName"] for a in described)))
    return list(check_alarms(stubbed.account, DEV, stack))


def test_quiet_alarms_with_a_confirmed_subscriber_are_healthy(stubbed: Stubbed) -> None:
    findings = run(
        stubbed, [alarm(ERRORS_ALARM), alarm(LATENCY_ALARM)], [history(), history()], subscriptions(CONFIRMED)
    )
    assert [(f.status, f.subject, f.summary) for f in findings] == [
        (Status.OK, "alarm history", "no alarm fired in the last 24 h (2 alarms watching)"),
        (Status.OK, "alarm notifications", f"{TOPIC} has 1 confirmed subscriber (email)"),
    ]


def test_an_alarm_in_alarm_is_a_failure_pointing_at_the_dashboard(stubbed: Stubbed) -> None:
    firing = alarm(
        ERRORS_ALARM,
        "ALARM",
        ago(minutes=12),
        description="endpoint answered 5XX",
        reason="Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).",
    )
    findings = run(stubbed, [firing], [history((ago(minutes=12), "OK", "ALARM"))], subscriptions(CONFIRMED))
    failure = findings[0]
    assert failure.status is Status.FAIL
    assert failure.summary == "in ALARM since 2026-05-04 11:48 UTC (12 min): endpoint answered 5XX"
    assert failure.evidence == (
        "Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).",
    )
    assert failure.action == (
        "open the dashboard https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards/dashboard/{DASHBOARD} and read the error lines below"
    )


def test_alarms_that_fired_and_recovered_are_a_warning_with_when(stubbed: Stubbed) -> None:
    flapped = history(
        (ago(hours=9), "OK", "ALARM"),
        (ago(hours=8), "ALARM", "OK"),
        (ago(hours=2), "OK", "ALARM"),
        (ago(hours=1), "ALARM", "OK"),
    )
    findings = run(
        stubbed,
        [alarm(ERRORS_ALARM, description="endpoint answered 5XX"), alarm(LATENCY_ALARM)],
        [flapped, history()],
        subscriptions(CONFIRMED),
    )
    fired = findings[0]
    assert (fired.status, fired.summary) == (
        Status.WARN,
        "1 alarm went to ALARM in the last 24 h and recovered",
    )
    assert fired.evidence == (
        f"{ERRORS_ALARM}: 2 times, last at 2026-05-04 10:00 UTC (endpoint answered 5XX)",
    )


def test_alarms_driving_autoscaling_are_left_to_the_scaling_checks(stubbed: Stubbed) -> None:
    scaling = alarm(IDLE_ALARM, "ALARM", ago(hours=3), (policy_arn("ScaleInToZero"),))
    findings = run(stubbed, [alarm(ERRORS_ALARM), scaling], [history()], subscriptions(CONFIRMED))
    assert all(f.status is Status.OK for f in findings)
    assert findings[0].summary == "no alarm fired in the last 24 h (1 alarm watching)"


def test_a_topic_without_subscribers_means_alarms_reach_nobody(stubbed: Stubbed) -> None:
    findings = run(stubbed, [alarm(ERRORS_ALARM)], [history()], subscriptions())
    nobody = findings[-1]
    assert (nobody.status, nobody.summary) == (
        Status.WARN,
        f"{TOPIC} has no subscriber, so the alarms reach nobody",
    )
    assert nobody.action == (
        "set monitoring.alarm_email in cdk.json and cdk deploy -c env=dev, or subscribe yourself: aws sns "
        f"subscribe --topic-arn {TOPIC} --protocol email --notification-endpoint you@example.com"
    )


def test_a_pending_confirmation_is_not_a_subscriber(stubbed: Stubbed) -> None:
    findings = run(stubbed, [alarm(ERRORS_ALARM)], [history()], subscriptions("PendingConfirmation"))
    pending = findings[-1]
    assert pending.status is Status.WARN
    assert pending.summary == (
        f"{TOPIC} has no confirmed subscriber (oncall@example.com did not confirm): the alarms reach nobody"
    )
    assert pending.action is not None and "valid for three days" in pending.action


def test_an_alarm_notifying_no_topic_and_one_with_disabled_actions_are_warnings(stubbed: Stubbed) -> None:
    findings = run(
        stubbed,
        [alarm(ERRORS_ALARM, actions=()), alarm(LATENCY_ALARM, enabled=False)],
        [history(), history()],
        subscriptions(CONFIRMED),
    )
    by_subject = {(f.subject, f.status): f for f in findings}
    disabled = by_subject[(f"alarm {LATENCY_ALARM}", Status.WARN)]
    assert disabled.action == f"aws cloudwatch enable-alarm-actions --alarm-names {LATENCY_ALARM}"
    silent = by_subject[("alarm notifications", Status.WARN)]
    assert silent.summary == f"no SNS topic among the actions of {ERRORS_ALARM}: nobody hears of them"
