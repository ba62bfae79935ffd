"""Preflight's check that the alarms reach somebody, against botocore's Stubber."""

from __future__ import annotations

from ops import preflight
from ops.results import Result, report

# stubbed_clients: the fixture `stubbed`, preflight's own (the doctor's in conftest.py has that name too).
from tests.ops.preflight_fakes import Stubbed, environment, stubbed_clients  # noqa: F401

TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-oncall"


def topic_attributes(stubbed: Stubbed, **attributes: str) -> None:
    stubbed.stubs["sns"].add_response(
        "get_topic_attributes", {"Attributes": {"TopicArn": TOPIC, **attributes}}, {"TopicArn": TOPIC}
    )


def test_alarms_without_a_subscriber_warn_and_name_both_settings(stubbed: Stubbed) -> None:
    result = preflight.check_alarm_subscribers(environment(), stubbed.clients)
    assert (result.ok, result.warning) == (False, True)
    assert result.problem == "the alarms notify an SNS topic nobody is subscribed to"
    assert result.fix is not None
    assert "monitoring.alarm_email" in result.fix and "monitoring.alarm_topic_arn" in result.fix


def test_an_alarm_email_passes_naming_the_confirmation_it_needs(stubbed: Stubbed) -> None:
    result = preflight.check_alarm_subscribers(
        environment(monitoring={"alarm_email": "oncall@example.com"}), stubbed.clients
    )
    assert result.ok and "oncall@example.com, once it confirms" in result.name


def test_an_existing_topic_with_confirmed_subscribers_passes(stubbed: Stubbed) -> None:
    topic_attributes(stubbed, SubscriptionsConfirmed="2", SubscriptionsPending="0")
    result = preflight.check_alarm_subscribers(
        environment(monitoring={"alarm_topic_arn": TOPIC}), stubbed.clients
    )
    assert result.ok and result.name.endswith("2 confirmed subscription(s)")


def test_an_existing_topic_without_a_confirmed_subscriber_warns_with_the_subscribe_command(
    stubbed: Stubbed,
) -> None:
    topic_attributes(stubbed, SubscriptionsConfirmed="0", SubscriptionsPending="1")
    result = preflight.check_alarm_subscribers(
        environment(monitoring={"alarm_topic_arn": TOPIC}), stubbed.clients
    )
    assert (result.ok, result.warning) == (False, True)
    assert result.fix is not None and result.fix.startswith(f"aws sns subscribe --topic-arn {TOPIC}")


def test_a_missing_topic_fails(stubbed: Stubbed) -> None:
    stubbed.stubs["sns"].add_client_error("get_topic_attributes", "NotFound", "Topic does not exist")
    result = preflight.check_alarm_subscribers(
        environment(monitoring={"alarm_topic_arn": TOPIC}), stubbed.clients
    )
    assert (result.ok, result.warning, result.problem) == (False, False, "no such topic in us-east-1")


def test_a_topic_under_the_aws_managed_sns_key_fails(stubbed: Stubbed) -> None:
    topic_attributes(stubbed, SubscriptionsConfirmed="1", KmsMasterKeyId="alias/aws/sns")
    result = preflight.check_alarm_subscribers(
        environment(monitoring={"alarm_topic_arn": TOPIC}), stubbed.clients
    )
    assert (result.ok, result.warning) == (False, False)
    assert result.problem is not None and "which CloudWatch cannot use" in result.problem


def test_a_warning_is_printed_with_its_fix_but_does_not_fail_the_run() -> None:
    lines: list[str] = []
    assert report(iter([Result("a"), Result("b", "nobody", "subscribe", warning=True)]), lines.append)
    assert lines == ["ok    a", "WARN  b: nobody", "      fix: subscribe"]
