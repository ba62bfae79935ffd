"""The doctor's stack check and what it discovers from the stack, on Stubber."""

from __future__ import annotations

from ops.doctor.findings import Status
from ops.doctor.stack import ScalableTarget, read_stack
from ops.environment import load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import (
    COMPONENT,
    COMPONENT_TARGET,
    DASHBOARD,
    ENDPOINT,
    ERRORS_ALARM,
    FUNCTION,
    IDLE_ALARM,
    STACK,
    WAKE_ALARM,
    ago,
    resources,
    stack,
    stack_event,
)

DEV = load_environment("dev")


def script(stubbed: Stubbed, status: str, **outputs: str) -> None:
    cloudformation = stubbed.stub["cloudformation"]
    cloudformation.add_response("describe_stacks", stack(status, outputs or None), {"StackName": STACK})
    cloudformation.add_response("list_stack_resources", resources(), {"StackName": STACK})


def test_a_missing_stack_is_not_deployed_and_nothing_else_is_read(stubbed: Stubbed) -> None:
    stubbed.stub["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
    )
    finding, deployed = read_stack(stubbed.account, DEV)
    assert deployed is None
    assert (finding.status, finding.summary) == (Status.FAIL, "not deployed in us-east-1")
    assert finding.action == "make preflight ENV=dev, then cdk deploy -c env=dev"


def test_a_deployed_stack_says_what_it_deployed(stubbed: Stubbed) -> None:
    script(stubbed, "UPDATE_COMPLETE")
    finding, deployed = read_stack(stubbed.account, DEV)
    assert (finding.status, finding.summary) == (
        Status.OK,
        "UPDATE_COMPLETE (last change 2026-05-04 10:00 UTC)",
    )
    assert deployed is not None and deployed.runs
    assert deployed.agent_function == FUNCTION  # not the image build's or CDK's own functions
    assert deployed.scalable_targets == [
        ScalableTarget(COMPONENT_TARGET, "sagemaker:inference-component:DesiredCopyCount", "sagemaker")
    ]
    assert deployed.physical_ids("AWS::CloudWatch::Alarm") == [IDLE_ALARM, WAKE_ALARM, ERRORS_ALARM]
    assert deployed.physical_ids("AWS::CloudWatch::Dashboard") == [DASHBOARD]
    assert (deployed.endpoint_name(DEV), deployed.component_name(DEV)) == (ENDPOINT, COMPONENT)


def test_without_outputs_the_names_come_from_cdk_json(stubbed: Stubbed) -> None:
    script(stubbed, "CREATE_COMPLETE", Other="x")
    _, deployed = read_stack(stubbed.account, DEV)
    assert deployed is not None
    assert (deployed.endpoint_name(DEV), deployed.component_name(DEV)) == (
        DEV.endpoint_name,
        DEV.inference_component_name,
    )


def test_an_update_under_way_is_a_warning_to_come_back_and_what_runs_is_still_checked(
    stubbed: Stubbed,
) -> None:
    script(stubbed, "UPDATE_IN_PROGRESS")
    finding, deployed = read_stack(stubbed.account, DEV)
    assert finding.status is Status.WARN
    assert finding.summary.endswith("CloudFormation is still at work; what follows may change as it goes")
    assert finding.action == "run make doctor ENV=dev again when it ends"
    assert deployed is not None and deployed.runs


def test_a_first_create_under_way_has_nothing_to_check_yet(stubbed: Stubbed) -> None:
    script(stubbed, "CREATE_IN_PROGRESS")
    finding, deployed = read_stack(stubbed.account, DEV)
    assert finding.status is Status.WARN
    assert finding.summary.endswith("CloudFormation is still at work, nothing to check yet")
    assert deployed is not None and not deployed.runs


def failed_update_events() -> dict[str, list[dict[str, object]]]:
    """DescribeStackEvents, newest first: an update whose endpoint failed, and an older failed update."""
    return {
        "StackEvents": [
            stack_event(ago(minutes=10), STACK, "UPDATE_ROLLBACK_COMPLETE", ""),
            stack_event(
                ago(minutes=30), "InferenceComponentAD9E5E91", "UPDATE_FAILED", "Resource update cancelled"
            ),
            stack_event(ago(minutes=31), "InferenceEndpointA45980A1", "UPDATE_FAILED", "quota exceeded"),
            stack_event(ago(minutes=50), STACK, "UPDATE_IN_PROGRESS", "User Initiated"),
            stack_event(ago(days=2), "Older", "UPDATE_FAILED", "an older failure"),
        ]
    }


def test_a_rolled_back_update_names_the_failed_resources_of_that_deploy_first_cause_first(
    stubbed: Stubbed,
) -> None:
    script(stubbed, "UPDATE_ROLLBACK_COMPLETE")
    stubbed.stub["cloudformation"].add_response(
        "describe_stack_events", failed_update_events(), {"StackName": STACK}
    )
    finding, deployed = read_stack(stubbed.account, DEV)
    assert finding.status is Status.WARN
    assert "the previous version runs" in finding.summary
    assert finding.evidence == (
        "2026-05-04 11:29 UTC InferenceEndpointA45980A1 (AWS::SageMaker::Endpoint) UPDATE_FAILED: quota "
        "exceeded",
        "2026-05-04 11:30 UTC InferenceComponentAD9E5E91 (AWS::SageMaker::Endpoint) UPDATE_FAILED: Resource "
        "update cancelled",
    )
    assert deployed is not None and deployed.runs


def test_a_failed_first_deploy_must_be_destroyed_and_nothing_runs(stubbed: Stubbed) -> None:
    script(stubbed, "ROLLBACK_COMPLETE")
    stubbed.stub["cloudformation"].add_response(
        "describe_stack_events", {"StackEvents": []}, {"StackName": STACK}
    )
    finding, deployed = read_stack(stubbed.account, DEV)
    assert finding.status is Status.FAIL
    assert finding.action is not None and finding.action.startswith("cdk destroy -c env=dev")
    assert deployed is not None and not deployed.runs


def test_a_failed_rollback_says_how_to_continue_it(stubbed: Stubbed) -> None:
    script(stubbed, "UPDATE_ROLLBACK_FAILED")
    stubbed.stub["cloudformation"].add_response(
        "describe_stack_events", {"StackEvents": []}, {"StackName": STACK}
    )
    finding, _ = read_stack(stubbed.account, DEV)
    assert finding.status is Status.FAIL
    assert finding.action is not None
    assert f"aws cloudformation continue-update-rollback --stack-name {STACK}" in finding.action
