"""``make doctor``: whole runs on Stubber, the verdict and exit status, and failing cleanly without AWS."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.doctor.__main__ import run
from ops.doctor.findings import Finding, Status, Verdict, duration, report
from ops.environment import CDK_JSON, load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import (
    ACCOUNT,
    COMPONENT,
    COMPONENT_TARGET,
    ENDPOINT,
    ERRORS_ALARM,
    FUNCTION,
    IDLE_ALARM,
    STACK,
    TOPIC,
    WAKE_ALARM,
    action_runs,
    activities,
    ago,
    alarm,
    alarms,
    component,
    endpoint,
    function,
    history,
    log_events,
    policies,
    resources,
    scalable_target,
    stack,
    step_policy,
    subscriptions,
)

DEV = load_environment("dev")
ROOT = CDK_JSON.parent
TO_ZERO = step_policy("ScaleInToZero", (IDLE_ALARM,), (0,))
FROM_ZERO = step_policy("ScaleOutFromZero", (WAKE_ALARM,), (1,))


def script_dev(
    stubbed: Stubbed,
    *,
    idle: dict[str, Any] | None = None,
    idle_actions: dict[str, Any] | None = None,
    endpoint_error: str | None = None,
) -> None:
    """Every call of a whole run against a deployed dev environment, client by client, in order."""
    stub = stubbed.stub
    stub["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    stub["cloudformation"].add_response("describe_stacks", stack(), {"StackName": STACK})
    stub["cloudformation"].add_response("list_stack_resources", resources(), {"StackName": STACK})
    if endpoint_error is None:
        stub["sagemaker"].add_response("describe_endpoint", endpoint(), {"EndpointName": ENDPOINT})
    else:
        stub["sagemaker"].add_client_error("describe_endpoint", endpoint_error, "not authorized")
    stub["sagemaker"].add_response(
        "describe_inference_component", component(), {"InferenceComponentName": COMPONENT}
    )
    for _ in range(4):  # the model's logs, then the function's: the newest hour, then the rest
        stub["logs"].add_response("filter_log_events", log_events())
    stub["lambda_"].add_response("get_function_configuration", function(), {"FunctionName": FUNCTION})
    stub["lambda_"].add_response("get_function_concurrency", {}, {"FunctionName": FUNCTION})
    stub["autoscaling"].add_response("describe_scalable_targets", scalable_target())
    stub["autoscaling"].add_response("describe_scaling_activities", activities())
    stub["autoscaling"].add_response("describe_scaling_policies", policies(TO_ZERO, FROM_ZERO))
    cloudwatch = stub["cloudwatch"]
    scaling_alarms = (
        idle or alarm(IDLE_ALARM, actions=(TO_ZERO["PolicyARN"],)),
        alarm(WAKE_ALARM, actions=(FROM_ZERO["PolicyARN"],)),
    )
    cloudwatch.add_response("describe_alarms", alarms(*scaling_alarms))
    cloudwatch.add_response(
        "describe_alarm_history",
        history(),
        {
            "AlarmName": IDLE_ALARM,
            "HistoryItemType": "StateUpdate",
            "StartDate": ago(hours=24),
            "EndDate": ago(),
            "MaxRecords": 100,
            "ScanBy": "TimestampDescending",
        },
    )
    if idle_actions is not None:  # read only when the idle alarm's scale-in did not follow
        cloudwatch.add_response("describe_alarm_history", idle_actions)
    cloudwatch.add_response("describe_alarm_history", history())
    # The watching alarms: the scaling ones are known already, only the others are described.
    cloudwatch.add_response(
        "describe_alarms",
        alarms(alarm(ERRORS_ALARM)),
        {"AlarmNames": [ERRORS_ALARM], "AlarmTypes": ["MetricAlarm"]},
    )
    cloudwatch.add_response("describe_alarm_history", history())
    stub["sns"].add_response("list_subscriptions_by_topic", subscriptions(f"{TOPIC}:1"), {"TopicArn": TOPIC})


def test_a_healthy_dev_environment_reads_as_such_and_exits_0(stubbed: Stubbed) -> None:
    script_dev(stubbed)
    lines: list[str] = []
    assert run(DEV, stubbed.account, lines.append) == 0
    assert (
        lines[0]
        == f"Doctor of {STACK} (account {ACCOUNT}, us-east-1): the last 24 h, to 2026-05-04 12:00 UTC"
    )
    subjects = [line.split(":")[0] for line in lines[1:-1] if not line.startswith(" ")]
    assert subjects == [
        f"ok    stack {STACK}",
        f"ok    endpoint {ENDPOINT}",
        f"ok    inference component {COMPONENT}",
        "ok    model logs",
        f"ok    function {FUNCTION}",
        "ok    function logs",
        f"ok    scaling of {COMPONENT_TARGET}",
        f"ok    scale-in alarm {IDLE_ALARM}",
        f"ok    scale-out alarm {WAKE_ALARM}",
        "ok    alarm history",
        "ok    alarm notifications",
    ]
    assert lines[-1] == "\nHEALTHY"


def test_a_scale_in_that_did_not_happen_makes_the_environment_unhealthy_exit_1(stubbed: Stubbed) -> None:
    script_dev(
        stubbed,
        idle=alarm(IDLE_ALARM, "ALARM", ago(minutes=45), (TO_ZERO["PolicyARN"],)),
        idle_actions=action_runs(),
    )
    lines: list[str] = []
    assert run(DEV, stubbed.account, lines.append) == 1
    assert any(line.startswith(f"FAIL  scale-in alarm {IDLE_ALARM}: in ALARM since") for line in lines)
    assert lines[-1] == "\nUNHEALTHY: 1 problem"


def test_a_call_the_credentials_may_not_make_fails_that_check_alone(stubbed: Stubbed) -> None:
    script_dev(stubbed, endpoint_error="AccessDeniedException")
    lines: list[str] = []
    assert run(DEV, stubbed.account, lines.append) == 1
    (error,) = [line for line in lines if line.startswith("ERROR")]
    assert error.startswith(
        f"ERROR endpoint {ENDPOINT}: could not be read: An error occurred (AccessDeniedException)"
    )
    assert sum(line.startswith("ok ") for line in lines) == 10  # every other check still ran
    assert lines[-1] == "\nUNKNOWN: 1 check could not read the account"


def test_an_environment_not_deployed_is_unhealthy_after_one_finding(stubbed: Stubbed) -> None:
    stubbed.stub["sts"].add_response("get_caller_identity", {"Account": ACCOUNT}, {})
    stubbed.stub["cloudformation"].add_client_error("describe_stacks", "ValidationError", "does not exist")
    lines: list[str] = []
    assert run(DEV, stubbed.account, lines.append) == 1
    assert lines[1] == f"FAIL  stack {STACK}: not deployed in us-east-1"


def test_refused_credentials_are_one_clear_line_and_exit_2(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.stub["sts"].add_client_error(
        "get_caller_identity", "ExpiredToken", "The security token included in the request is expired"
    )
    assert run(DEV, stubbed.account, print) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: the AWS credentials do not work (An error occurred (ExpiredToken)")


def test_credentials_of_another_account_are_refused(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.stub["sts"].add_response("get_caller_identity", {"Account": "210987654321"}, {})
    assert run(dataclasses.replace(DEV, account=ACCOUNT), stubbed.account, print) == 2
    assert "the credentials are for account 210987654321" in capsys.readouterr().err


def doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ops.doctor`` with no AWS credentials anywhere and no way to reach AWS.

    No credentials in the environment, no config or credentials file, the instance metadata service off (no
    hang probing it), and every AWS endpoint pointed at a closed local port.
    """
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    clean.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "ops.doctor", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("--env", "dev"),
            {"AWS_DEFAULT_REGION": "us-east-1"},
            "error: no AWS credentials found: configure credentials (aws configure, aws sso login, or "
            "AWS_PROFILE) and run make doctor again\n",
        ),
        (
            ("--env", "dev"),
            {"AWS_DEFAULT_REGION": "us-east-1", "AWS_PROFILE": "nope"},
            "error: The config profile (nope) could not be found: configure credentials (aws configure, aws "
            "sso login, or AWS_PROFILE) and run make doctor again\n",
        ),
        (
            ("--env", "dev"),
            {},
            "error: no AWS region: set AWS_DEFAULT_REGION or the environment's region in cdk.json\n",
        ),
    ],
)
def test_without_credentials_or_region_it_fails_cleanly_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = doctor(tmp_path, *args, **env)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)


def test_a_bad_environment_or_window_is_one_clear_error(tmp_path: Path) -> None:
    unknown = doctor(tmp_path, "--env", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: cdk.json environment 'nope': env: no such environment")
    window = doctor(tmp_path, "--hours", "0")
    assert window.returncode == 2
    assert "argument --hours: from 1 to 720 hours" in window.stderr
    assert "Traceback" not in unknown.stderr + window.stderr


def test_the_doctor_imports_neither_cdk_nor_the_web_framework() -> None:
    probe = "import sys, ops.doctor.__main__; print(sorted(m.split('.')[0] for m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for package in ("aws_cdk", "constructs", "jsii", "starlette", "uvicorn", "strands"):
        assert f"'{package}'" not in loaded


def test_make_help_lists_the_doctor_and_passes_the_environment() -> None:
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "make doctor" in listed
    dry = subprocess.run(
        ["make", "-n", "doctor", "ENV=prod", "HOURS=6"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m ops.doctor --env prod --hours 6" in dry


@pytest.mark.parametrize(
    ("counts", "verdict", "status"),
    [
        ((0, 0, 0), "HEALTHY", 0),
        ((0, 2, 0), "HEALTHY, 2 warnings", 0),
        ((1, 1, 0), "UNHEALTHY: 1 problem, 1 warning", 1),
        ((2, 0, 1), "UNHEALTHY: 2 problems, 1 check could not read the account", 1),
        ((0, 1, 2), "UNKNOWN: 2 checks could not read the account, 1 warning", 1),
    ],
)
def test_the_verdict_and_its_exit_status(counts: tuple[int, int, int], verdict: str, status: int) -> None:
    assert (str(Verdict(*counts)), Verdict(*counts).exit_status) == (verdict, status)


def test_a_finding_prints_its_evidence_then_what_to_do() -> None:
    lines: list[str] = []
    findings = [
        Finding(Status.OK, "a", "fine"),
        Finding(Status.WARN, "b", "odd", "look", ("line 1", "line 2")),
        Finding(Status.ERROR, "c", "could not be read: denied", "allow it"),
    ]
    assert report(findings, lines.append) == Verdict(0, 1, 1)
    assert lines == [
        "ok    a: fine",
        "WARN  b: odd",
        "      | line 1",
        "      | line 2",
        "      do: look",
        "ERROR c: could not be read: denied",
        "      do: allow it",
    ]


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=3, minutes=5), "3 h 05 min"),
        (timedelta(hours=24), "24 h"),
        (timedelta(days=3, hours=4, minutes=30), "3 days 4 h"),
        (timedelta(seconds=-5), "0 s"),
    ],
)
def test_durations_read_in_the_units_that_fit(span: timedelta, text: str) -> None:
    assert duration(span) == text
