"""The doctor's endpoint and inference component checks, on Stubber."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ops.doctor.findings import Status
from ops.doctor.serving import check_component, check_endpoint
from ops.environment import load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import COMPONENT, ENDPOINT, ago, component, endpoint

DEV = load_environment("dev")
PROD = load_environment("prod")


def endpoint_finding(stubbed: Stubbed, answer: dict[str, Any], config: Any = PROD) -> Any:
    stubbed.stub["sagemaker"].add_response("describe_endpoint", answer, {"EndpointName": ENDPOINT})
    (finding,) = check_endpoint(stubbed.account, config, ENDPOINT)
    return finding


def component_finding(stubbed: Stubbed, answer: dict[str, Any]) -> Any:
    stubbed.stub["sagemaker"].add_response(
        "describe_inference_component", answer, {"InferenceComponentName": COMPONENT}
    )
    (finding,) = check_component(stubbed.account, DEV, COMPONENT)
    return finding


@pytest.mark.parametrize(
    ("answer", "config", "status", "summary"),
    [
        (endpoint(current=2, desired=2), PROD, Status.OK, "InService, 2 instances"),
        (
            endpoint(current=0, desired=0),
            DEV,
            Status.OK,
            "InService, no instance: the model is scaled to zero",
        ),
        (
            endpoint(current=1, desired=2),
            PROD,
            Status.WARN,
            "InService, 1 instance of 2 running: the others are starting since 2026-05-04 10:00 UTC",
        ),
        (endpoint("Updating"), PROD, Status.WARN, "Updating since 2026-05-04 10:00 UTC, 1 instance"),
    ],
)
def test_endpoint_states(
    stubbed: Stubbed, answer: dict[str, Any], config: Any, status: Status, summary: str
) -> None:
    finding = endpoint_finding(stubbed, answer, config)
    assert (finding.status, finding.summary) == (status, summary)


def test_a_failed_endpoint_gives_sagemakers_reason_and_points_at_the_model_logs(stubbed: Stubbed) -> None:
    finding = endpoint_finding(
        stubbed, endpoint("Failed", 0, 1, FailureReason="The primary container failed")
    )
    assert finding.status is Status.FAIL
    assert finding.summary == "Failed since 2026-05-04 10:00 UTC: The primary container failed"
    assert finding.action is not None and finding.action.startswith("read the model's error lines below")


def test_an_endpoint_the_stack_lost_is_a_failure(stubbed: Stubbed) -> None:
    stubbed.stub["sagemaker"].add_client_error(
        "describe_endpoint", "ValidationException", f'Could not find endpoint "{ENDPOINT}".'
    )
    (finding,) = check_endpoint(stubbed.account, PROD, ENDPOINT)
    assert (finding.status, finding.summary) == (Status.FAIL, "does not exist, though the stack deployed it")


@pytest.mark.parametrize(
    ("answer", "status", "summary"),
    [
        (component(current=2, desired=2), Status.OK, "InService, 2 copies"),
        (
            component(current=0, desired=0),
            Status.OK,
            "InService, scaled to zero: no copy and no GPU instance; the first request wakes it (a copy "
            "takes about 5-15 minutes to start)",
        ),
        (component(current=2, desired=1), Status.OK, "InService, 2 copies, going down to 1"),
        (component("Updating", 1, 1), Status.WARN, "Updating since 2026-05-04 10:00 UTC, 1 copy of 1"),
    ],
)
def test_component_states(stubbed: Stubbed, answer: dict[str, Any], status: Status, summary: str) -> None:
    finding = component_finding(stubbed, answer)
    assert (finding.status, finding.summary) == (status, summary)


def test_a_copy_starting_for_minutes_is_a_warning_to_wait(stubbed: Stubbed) -> None:
    finding = component_finding(stubbed, component(current=0, desired=1, modified=ago(minutes=8)))
    assert finding.status is Status.WARN
    assert finding.summary == (
        "InService, 0 copies of 1 running, 8 min after its last change (2026-05-04 11:52 UTC): a copy is "
        "starting (about 5-15 minutes for an 8B model)"
    )


def test_a_copy_not_in_service_after_every_start_up_timeout_is_stuck(stubbed: Stubbed) -> None:
    # dev: 1800 s to download + 1800 s to start + 15 min for an instance = 75 min.
    finding = component_finding(stubbed, component(current=0, desired=1, modified=ago(minutes=76)))
    assert finding.status is Status.FAIL
    assert "(1 h 15 min), so the copy is not coming" in finding.summary
    assert finding.action is not None and "ml.g6.12xlarge quota" in finding.action


def test_the_start_up_limit_follows_the_environments_timeouts(stubbed: Stubbed) -> None:
    quick = dataclasses.replace(
        DEV,
        endpoint=dataclasses.replace(
            DEV.endpoint, model_download_timeout_seconds=600, startup_health_check_timeout_seconds=600
        ),
    )
    stubbed.stub["sagemaker"].add_response(
        "describe_inference_component", component(current=0, desired=1, modified=ago(minutes=40))
    )
    (finding,) = check_component(stubbed.account, quick, COMPONENT)
    assert finding.status is Status.FAIL  # 40 min > 10 + 10 + 15


def test_a_failed_component_gives_sagemakers_reason(stubbed: Stubbed) -> None:
    finding = component_finding(
        stubbed, component("Failed", 0, 1, FailureReason="Container failed the ping health check")
    )
    assert (finding.status, finding.summary) == (
        Status.FAIL,
        "Failed since 2026-05-04 10:00 UTC: Container failed the ping health check",
    )
