"""The image-build custom resource handlers, against botocore's Stubber (no AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stacks.image_build.handler.wait_for_image import ImageBuildError, check, start

pytestmark = pytest.mark.infra

PROPS = {
    "ProjectName": "serving-build",
    "RepositoryName": "serving",
    "RepositoryUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving",
    "ImageTag": "sglang-0123456789abcdef",
    # CloudFormation passes every custom-resource property as a string.
    "DeadlineSeconds": "3120",
}
IMAGE_URI = f"{PROPS['RepositoryUri']}:{PROPS['ImageTag']}"
BUILD_ID = "serving-build:5f1c"
LOGS = "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=build"
SUBMITTED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DESCRIBE = {"repositoryName": "serving", "imageIds": [{"imageTag": PROPS["ImageTag"]}]}


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any, Stubber, Stubber]]:
    """Stubbed ECR and CodeBuild clients; every queued response must be consumed."""
    ecr = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    codebuild = boto3.client(
        "codebuild", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(ecr) as ecr_stub, Stubber(codebuild) as codebuild_stub:
        yield ecr, codebuild, ecr_stub, codebuild_stub
        ecr_stub.assert_no_pending_responses()
        codebuild_stub.assert_no_pending_responses()


def event(request_type: str = "Create", **extra: Any) -> dict[str, Any]:
    return {"RequestType": request_type, "ResourceProperties": PROPS, **extra}


def image_found(ecr_stub: Stubber) -> None:
    ecr_stub.add_response("describe_images", {"imageDetails": [{"imageTags": [PROPS["ImageTag"]]}]}, DESCRIBE)


def image_missing(ecr_stub: Stubber) -> None:
    ecr_stub.add_client_error("describe_images", "ImageNotFoundException", expected_params=DESCRIBE)


def build(status: str, phases: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "builds": [
            {
                "id": BUILD_ID,
                "buildStatus": status,
                "startTime": SUBMITTED,
                "phases": phases or [],
                "logs": {"deepLink": LOGS},
                **extra,
            }
        ]
    }


def test_create_starts_a_build_with_the_content_tag_when_the_image_is_missing(clients: Any) -> None:
    ecr, codebuild, ecr_stub, codebuild_stub = clients
    image_missing(ecr_stub)
    codebuild_stub.add_response(
        "start_build",
        {"build": {"id": BUILD_ID}},
        {
            "projectName": "serving-build",
            "environmentVariablesOverride": [
                {"name": "IMAGE_TAG", "value": PROPS["ImageTag"], "type": "PLAINTEXT"}
            ],
        },
    )
    assert start(event(), ecr, codebuild) == {
        "PhysicalResourceId": IMAGE_URI,
        "Data": {"ImageUri": IMAGE_URI, "BuildId": BUILD_ID},
    }


def test_existing_image_is_not_rebuilt(clients: Any) -> None:
    ecr, codebuild, ecr_stub, _ = clients
    image_found(ecr_stub)
    assert start(event("Update"), ecr, codebuild) == {
        "PhysicalResourceId": IMAGE_URI,
        "Data": {"ImageUri": IMAGE_URI},
    }


def test_delete_keeps_the_image_and_calls_nothing(clients: Any) -> None:
    ecr, codebuild, _, _ = clients
    assert start(event("Delete", PhysicalResourceId=IMAGE_URI), ecr, codebuild) == {
        "PhysicalResourceId": IMAGE_URI
    }


def test_unexpected_ecr_error_propagates(clients: Any) -> None:
    ecr, codebuild, ecr_stub, _ = clients
    ecr_stub.add_client_error("describe_images", "AccessDeniedException", expected_params=DESCRIBE)
    with pytest.raises(Exception, match="AccessDeniedException"):
        start(event(), ecr, codebuild)


def test_running_build_is_not_complete_until_the_deadline(clients: Any) -> None:
    ecr, codebuild, _, codebuild_stub = clients
    codebuild_stub.add_response("batch_get_builds", build("IN_PROGRESS"), {"ids": [BUILD_ID]})
    at_deadline = SUBMITTED + timedelta(seconds=3120)
    assert check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild, now=at_deadline) == {"IsComplete": False}


def test_build_running_past_the_deadline_is_stopped_and_fails_with_its_log_link(clients: Any) -> None:
    ecr, codebuild, _, codebuild_stub = clients
    queued = build("IN_PROGRESS", currentPhase="QUEUED")
    codebuild_stub.add_response("batch_get_builds", queued, {"ids": [BUILD_ID]})
    codebuild_stub.add_response("stop_build", {"build": {"id": BUILD_ID}}, {"id": BUILD_ID})
    late = SUBMITTED + timedelta(seconds=3121)
    with pytest.raises(ImageBuildError) as caught:
        check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild, now=late)
    assert str(caught.value) == (
        f"Image build {BUILD_ID} was still QUEUED after 52 minutes and was stopped: CloudFormation waits at "
        f"most one hour for the image. Build logs: {LOGS}"
    )


def test_succeeded_build_completes_once_the_image_is_in_ecr(clients: Any) -> None:
    ecr, codebuild, ecr_stub, codebuild_stub = clients
    codebuild_stub.add_response("batch_get_builds", build("SUCCEEDED"), {"ids": [BUILD_ID]})
    image_found(ecr_stub)
    assert check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild) == {"IsComplete": True}


def test_failed_build_fails_with_phase_and_log_link(clients: Any) -> None:
    ecr, codebuild, _, codebuild_stub = clients
    phases = [
        {"phaseType": "PRE_BUILD", "phaseStatus": "SUCCEEDED"},
        {
            "phaseType": "BUILD",
            "phaseStatus": "FAILED",
            "contexts": [{"statusCode": "1", "message": "exit 1"}],
        },
    ]
    codebuild_stub.add_response("batch_get_builds", build("FAILED", phases), {"ids": [BUILD_ID]})
    with pytest.raises(ImageBuildError) as caught:
        check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild)
    assert str(caught.value) == f"Image build {BUILD_ID} FAILED in phase BUILD (exit 1). Build logs: {LOGS}"


def test_succeeded_build_without_the_image_fails_with_log_link(clients: Any) -> None:
    ecr, codebuild, ecr_stub, codebuild_stub = clients
    codebuild_stub.add_response("batch_get_builds", build("SUCCEEDED"), {"ids": [BUILD_ID]})
    image_missing(ecr_stub)
    with pytest.raises(ImageBuildError) as caught:
        check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild)
    assert f"{IMAGE_URI} is not in ECR" in str(caught.value)
    assert str(caught.value).endswith(f"Build logs: {LOGS}")


def test_vanished_build_is_reported(clients: Any) -> None:
    ecr, codebuild, _, codebuild_stub = clients
    codebuild_stub.add_response("batch_get_builds", {"builds": []}, {"ids": [BUILD_ID]})
    with pytest.raises(ImageBuildError, match="no longer exists"):
        check(event(Data={"BuildId": BUILD_ID}), ecr, codebuild)


def test_no_build_started_means_complete(clients: Any) -> None:
    ecr, codebuild, _, _ = clients
    assert check(event(Data={"ImageUri": IMAGE_URI}), ecr, codebuild) == {"IsComplete": True}
