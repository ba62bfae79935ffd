"""The SageMaker endpoint and its inference component: status, instances, copies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from ops.doctor.account import Account
from ops.doctor.findings import Finding, Status, duration, plural, when
from stacks.config import EnvironmentConfig

# Besides the two start-up timeouts SageMaker enforces on a copy, the instance it needs may have to be
# started first (managed instance scaling); a copy still not in service after all of that is stuck.
_INSTANCE_START = timedelta(minutes=15)
_IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


def _not_found(error: ClientError) -> bool:
    """SageMaker's answer for a name it does not know: ValidationException "Could not find ..."."""
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and "Could not find" in str(details.get("Message"))


def check_endpoint(account: Account, config: EnvironmentConfig, name: str) -> Iterator[Finding]:
    """Check the endpoint's status and instances."""
    subject = f"endpoint {name}"
    try:
        endpoint = account.endpoint(name)
    except ClientError as error:
        if not _not_found(error):
            raise
        yield Finding(
            Status.FAIL,
            subject,
            "does not exist, though the stack deployed it",
            f"cdk deploy -c env={config.name} to create it again",
        )
        return
    status = endpoint["EndpointStatus"]
    variants = endpoint.get("ProductionVariants", [])
    current = sum(v.get("CurrentInstanceCount", 0) for v in variants)
    desired = sum(v.get("DesiredInstanceCount", 0) for v in variants)
    instances = plural(current, "instance")
    since = f" since {when(endpoint['LastModifiedTime'])}"
    if status == "InService":
        if current < desired:
            yield Finding(
                Status.WARN,
                subject,
                f"InService, {instances} of {desired} running: the others are starting{since}",
                f"run make doctor ENV={config.name} again in a few minutes",
            )
        elif current == 0 and config.endpoint.inference_component:
            yield Finding(Status.OK, subject, "InService, no instance: the model is scaled to zero")
        else:
            yield Finding(Status.OK, subject, f"InService, {instances}")
    elif status in _IN_PROGRESS:
        yield Finding(
            Status.WARN,
            subject,
            f"{status}{since}, {instances}",
            f"wait; run make doctor ENV={config.name} again when the deploy or update ends",
        )
    else:
        reason = endpoint.get("FailureReason", "SageMaker gave no reason")
        yield Finding(
            Status.FAIL,
            subject,
            f"{status}{since}: {reason}",
            "read the model's error lines below and the reason above, fix the model or its settings in "
            f"cdk.json, then cdk deploy -c env={config.name}",
        )


def check_component(account: Account, config: EnvironmentConfig, name: str) -> Iterator[Finding]:
    """Check the inference component's status and copies (inference-component mode)."""
    subject = f"inference component {name}"
    try:
        component = account.component(name)
    except ClientError as error:
        if not _not_found(error):
            raise
        yield Finding(
            Status.FAIL,
            subject,
            "does not exist, though the stack deployed it",
            f"cdk deploy -c env={config.name} to create it again",
        )
        return
    status = component["InferenceComponentStatus"]
    runtime = component.get("RuntimeConfig", {})
    current = runtime.get("CurrentCopyCount", 0)
    desired = runtime.get("DesiredCopyCount", current)
    copies = plural(current, "copy", "copies")
    changed = component["LastModifiedTime"]
    if status == "Failed":
        yield Finding(
            Status.FAIL,
            subject,
            f"Failed since {when(changed)}: {component.get('FailureReason', 'SageMaker gave no reason')}",
            "read the component's error lines below, fix the model or its settings in cdk.json, then "
            f"cdk deploy -c env={config.name}",
        )
    elif status != "InService":
        yield Finding(
            Status.WARN,
            subject,
            f"{status} since {when(changed)}, {copies} of {desired}",
            f"wait; run make doctor ENV={config.name} again when the deploy or update ends",
        )
    elif current < desired:
        yield _starting(account, config, subject, current, desired, changed)
    elif desired == 0:
        yield Finding(
            Status.OK,
            subject,
            "InService, scaled to zero: no copy and no GPU instance; the first request wakes it (a copy "
            "takes about 5-15 minutes to start)",
        )
    elif current > desired:
        yield Finding(Status.OK, subject, f"InService, {copies}, going down to {desired}")
    else:
        yield Finding(Status.OK, subject, f"InService, {copies}")


def _starting(
    account: Account, config: EnvironmentConfig, subject: str, current: int, desired: int, changed: datetime
) -> Finding:
    """Judge a component with fewer copies than it wants: starting, or stuck past every timeout."""
    waited = account.now - changed
    endpoint = config.endpoint
    limit = (
        timedelta(
            seconds=endpoint.model_download_timeout_seconds + endpoint.startup_health_check_timeout_seconds
        )
        + _INSTANCE_START
    )
    summary = (
        f"InService, {plural(current, 'copy', 'copies')} of {desired} running, {duration(waited)} after its "
        f"last change ({when(changed)})"
    )
    if waited <= limit:
        return Finding(
            Status.WARN,
            subject,
            f"{summary}: a copy is starting (about 5-15 minutes for an 8B model)",
            f"run make doctor ENV={config.name} again in a few minutes",
        )
    return Finding(
        Status.FAIL,
        subject,
        f"{summary}: longer than an instance start plus the download and start-up timeouts "
        f"({duration(limit)}), so the copy is not coming",
        f"read the component's error lines below; check the {endpoint.instance_type} quota "
        f"(make preflight ENV={config.name}) and the scaling activities above",
    )
