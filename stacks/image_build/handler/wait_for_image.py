"""Custom resource handlers (Provider framework) that build the serving image in CodeBuild and wait for it.

``on_event`` starts a CodeBuild build unless the tag is already in ECR (tags are content hashes, so an
existing tag is the same image); ``is_complete`` polls the build and finishes only once the image is in ECR.
A failed build fails the deployment with the build's CloudWatch Logs link in the error, and so does a build
still running (or queued) ``DeadlineSeconds`` after it was submitted: it is stopped, so that the deploy fails
with its link before CloudFormation's one-hour custom-resource limit fails it with "Operation timed out".
Deleting the resource leaves images alone: the repository's lifecycle rule and removal policy own them.

This module runs in Lambda; boto3 is imported only here, never by the CDK app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

FAILED_STATUSES = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})


class ImageBuildError(RuntimeError):
    """The image build did not produce the image; the message carries the CodeBuild log link."""


def image_exists(ecr: Any, repository_name: str, tag: str) -> bool:
    """Whether ``repository_name:tag`` is in ECR."""
    try:
        ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ImageNotFoundException":
            return False
        raise
    return True


def start(event: dict[str, Any], ecr: Any, codebuild: Any) -> dict[str, Any]:
    """Handle a CloudFormation request: start a build when the image is missing; never wait here."""
    props = event["ResourceProperties"]
    image_uri = f"{props['RepositoryUri']}:{props['ImageTag']}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    data = {"ImageUri": image_uri}
    if image_exists(ecr, props["RepositoryName"], props["ImageTag"]):
        return {"PhysicalResourceId": image_uri, "Data": data}
    build = codebuild.start_build(
        projectName=props["ProjectName"],
        environmentVariablesOverride=[{"name": "IMAGE_TAG", "value": props["ImageTag"], "type": "PLAINTEXT"}],
    )["build"]
    return {"PhysicalResourceId": image_uri, "Data": {**data, "BuildId": build["id"]}}


def _failure_detail(build: dict[str, Any]) -> str:
    for phase in build.get("phases", []):
        if phase.get("phaseStatus") in FAILED_STATUSES:
            messages = "; ".join(c["message"] for c in phase.get("contexts", []) if c.get("message"))
            return f" in phase {phase['phaseType']}" + (f" ({messages})" if messages else "")
    return ""


def check(event: dict[str, Any], ecr: Any, codebuild: Any, now: datetime | None = None) -> dict[str, Any]:
    """Report whether the build started by :func:`start` has put the image in ECR; raise if it failed.

    ``now`` (default: the current time) is compared with the build's submission time against the deadline.
    """
    build_id = event.get("Data", {}).get("BuildId")
    if event["RequestType"] == "Delete" or build_id is None:
        return {"IsComplete": True}
    props = event["ResourceProperties"]
    builds = codebuild.batch_get_builds(ids=[build_id])["builds"]
    if not builds:
        raise ImageBuildError(
            f"CodeBuild build {build_id} of project {props['ProjectName']} no longer exists"
        )
    build = builds[0]
    status = build["buildStatus"]
    logs = build.get("logs", {}).get("deepLink", "(no CloudWatch Logs link: the build never started)")
    if status == "IN_PROGRESS":
        deadline = int(props["DeadlineSeconds"])
        elapsed = ((now or datetime.now(UTC)) - build["startTime"]).total_seconds()
        if elapsed <= deadline:
            return {"IsComplete": False}
        codebuild.stop_build(id=build_id)
        raise ImageBuildError(
            f"Image build {build_id} was still {build.get('currentPhase', 'running')} after "
            f"{deadline // 60} minutes and was stopped: CloudFormation waits at most one hour for the image. "
            f"Build logs: {logs}"
        )
    if status in FAILED_STATUSES:
        raise ImageBuildError(f"Image build {build_id} {status}{_failure_detail(build)}. Build logs: {logs}")
    if not image_exists(ecr, props["RepositoryName"], props["ImageTag"]):
        raise ImageBuildError(
            f"Image build {build_id} succeeded but {props['RepositoryUri']}:{props['ImageTag']} is not in ECR"
            f" (does buildspec.yml push IMAGE_TAG?). Build logs: {logs}"
        )
    return {"IsComplete": True}


def on_event(event: dict[str, Any], _context: object) -> dict[str, Any]:
    """Lambda entry point of the Provider framework's onEvent handler."""
    return start(event, boto3.client("ecr"), boto3.client("codebuild"))


def is_complete(event: dict[str, Any], _context: object) -> dict[str, Any]:
    """Lambda entry point of the Provider framework's isComplete handler."""
    return check(event, boto3.client("ecr"), boto3.client("codebuild"))
