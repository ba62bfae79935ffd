"""The environment's CloudFormation stack: its status, and the physical ids of what it deployed.

The other checks find what to read from the stack itself (ListStackResources), not from names derived again
here, so they stay right when the templates change:

- CloudWatch alarms: ``AWS::CloudWatch::Alarm``, whose physical id is the alarm's name;
- scalable targets: ``AWS::ApplicationAutoScaling::ScalableTarget``, whose physical id is
  ``resource id|scalable dimension|service namespace`` (CloudFormation User Guide, ScalableTarget, Ref);
- the agent function: the ``AWS::Lambda::Function`` of the ``AgentApi/Function`` construct (below);
- the endpoint and the inference component: the stack's ``EndpointName`` and ``InferenceComponentName``
  outputs (their ``Ref`` is an ARN, which lower-cases the name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from ops.doctor.account import Account
from ops.doctor.findings import Finding, Status, when
from stacks.config import EnvironmentConfig

ALARM = "AWS::CloudWatch::Alarm"
SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
FUNCTION = "AWS::Lambda::Function"
DASHBOARD = "AWS::CloudWatch::Dashboard"
# CDK names a resource by its construct path plus a hash of it: the agent's function is
# `AgentApi/Function/Resource` (stacks/agent_stack.py, stacks/agent_api/construct.py). The stack's other
# functions (the image build's handlers, CDK's custom-resource providers) have other paths;
# tests/infra/test_infra_doctor_discovery.py checks this finds exactly the agent's in every environment.
AGENT_FUNCTION_LOGICAL_ID = re.compile(r"AgentApiFunction[0-9A-F]{8}")
ENDPOINT_OUTPUT = "EndpointName"
COMPONENT_OUTPUT = "InferenceComponentName"
# Failed resources shown for a failed deploy: the first ones are the cause, the rest follow from them.
_FAILED_EVENTS_SHOWN = 3

_HEALTHY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
# Statuses in which the stack has nothing running to look at, or only part of it (a first create under way
# or rolled back, a delete): what it lacks would read as failures.
_NOTHING_DEPLOYED = {
    "CREATE_IN_PROGRESS",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "REVIEW_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
}


@dataclass(frozen=True)
class Resource:
    """One resource of the stack as ListStackResources reports it."""

    logical_id: str
    physical_id: str
    type: str


@dataclass(frozen=True)
class ScalableTarget:
    """An Application Auto Scaling target, parsed from its CloudFormation physical id."""

    resource_id: str
    dimension: str
    namespace: str


@dataclass(frozen=True)
class DeployedStack:
    """The stack's status, outputs and resources."""

    name: str
    status: str
    outputs: dict[str, str]
    resources: tuple[Resource, ...]

    def physical_ids(self, resource_type: str) -> list[str]:
        """Return the physical ids of the stack's resources of one type (those created so far)."""
        return [r.physical_id for r in self.resources if r.type == resource_type and r.physical_id]

    @property
    def runs(self) -> bool:
        """Whether the stack has deployed resources worth checking."""
        return self.status not in _NOTHING_DEPLOYED

    @property
    def scalable_targets(self) -> list[ScalableTarget]:
        """The scalable targets the stack registered."""
        targets = []
        for physical_id in self.physical_ids(SCALABLE_TARGET):
            parts = physical_id.split("|")
            if len(parts) == 3:
                targets.append(ScalableTarget(*parts))
        return targets

    @property
    def agent_function(self) -> str | None:
        """The agent function's name, if the stack has it."""
        for resource in self.resources:
            if resource.type == FUNCTION and AGENT_FUNCTION_LOGICAL_ID.fullmatch(resource.logical_id):
                return resource.physical_id or None
        return None

    def endpoint_name(self, config: EnvironmentConfig) -> str:
        """Return the endpoint the stack deployed (its output, else the name cdk.json derives)."""
        return self.outputs.get(ENDPOINT_OUTPUT) or config.endpoint_name

    def component_name(self, config: EnvironmentConfig) -> str | None:
        """Return the inference component the stack deployed, if it uses one."""
        return self.outputs.get(COMPONENT_OUTPUT) or config.inference_component_name


def read_stack(account: Account, config: EnvironmentConfig) -> tuple[Finding, DeployedStack | None]:
    """Return the stack's finding, and the stack if it exists (``None``: nothing else to check)."""
    cloudformation = account.clients.cloudformation
    name = config.stack_name
    subject = f"stack {name}"
    deploy = f"cdk deploy -c env={config.name}"
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        return (
            Finding(
                Status.FAIL,
                subject,
                f"not deployed in {account.clients.region}",
                f"make preflight ENV={config.name}, then {deploy}",
            ),
            None,
        )
    status = stack["StackStatus"]
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=name)
    resources = tuple(
        Resource(r["LogicalResourceId"], r.get("PhysicalResourceId", ""), r["ResourceType"])
        for page in pages
        for r in page["StackResourceSummaries"]
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", []) if "OutputKey" in o}
    deployed = DeployedStack(name, status, outputs, resources)
    changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
    summary = f"{status} (last change {when(changed)})"
    if status in _HEALTHY:
        return Finding(Status.OK, subject, summary), deployed
    if status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
        return Finding(Status.OK, subject, f"{summary}: the update is done, old resources go"), deployed
    if status.endswith("_IN_PROGRESS") and "ROLLBACK" not in status:
        return (
            Finding(
                Status.WARN,
                subject,
                f"{summary}: CloudFormation is still at work"
                + ("; what follows may change as it goes" if deployed.runs else ", nothing to check yet"),
                f"run make doctor ENV={config.name} again when it ends",
            ),
            deployed,
        )
    failed = _failed_resources(account, name)
    return _failure(status, summary, subject, deploy, config, failed), deployed


def _failure(
    status: str, summary: str, subject: str, deploy: str, config: EnvironmentConfig, failed: tuple[str, ...]
) -> Finding:
    """Return the finding of a stack whose last operation failed or is rolling back."""
    if status == "UPDATE_ROLLBACK_COMPLETE":
        return Finding(
            Status.WARN,
            subject,
            f"{summary}: the last deploy failed and was rolled back; the previous version runs",
            f"fix what the failed resources say, then {deploy}",
            failed,
        )
    if status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS"}:
        return Finding(
            Status.FAIL,
            subject,
            f"{summary}: the first deploy failed, nothing runs, and the stack cannot be updated",
            f"cdk destroy -c env={config.name}, fix what the failed resources say, then {deploy}",
            failed,
        )
    if status == "UPDATE_ROLLBACK_FAILED":
        return Finding(
            Status.FAIL,
            subject,
            f"{summary}: a failed deploy could not roll back",
            f"fix the resources named below, then aws cloudformation continue-update-rollback "
            f"--stack-name {config.stack_name} (skip one with --resources-to-skip if it cannot be fixed)",
            failed,
        )
    if status == "UPDATE_ROLLBACK_IN_PROGRESS":
        return Finding(
            Status.FAIL,
            subject,
            f"{summary}: the last deploy failed and is rolling back",
            f"wait for UPDATE_ROLLBACK_COMPLETE, fix what the failed resources say, then {deploy}",
            failed,
        )
    return Finding(
        Status.FAIL,
        subject,
        summary,
        f"fix what the failed resources say (aws cloudformation describe-stack-events --stack-name "
        f"{config.stack_name}), then {deploy}",
        failed,
    )


def _failed_resources(account: Account, stack_name: str) -> tuple[str, ...]:
    """Return the first resources that failed in the stack's last operation, with the reasons.

    DescribeStackEvents lists events newest first; the last operation began at the newest event of the stack
    itself that is "User Initiated".
    """
    events = account.clients.cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    last_operation = []
    for event in events:
        last_operation.append(event)
        if (
            event.get("LogicalResourceId") == stack_name
            and event.get("ResourceStatusReason") == "User Initiated"
        ):
            break
    failed = [
        f"{when(event['Timestamp'])} {event.get('LogicalResourceId', '?')} "
        f"({event.get('ResourceType', '?')}) {event.get('ResourceStatus', '')}: "
        f"{event.get('ResourceStatusReason', 'no reason given')}"
        for event in reversed(last_operation)
        if event.get("ResourceStatus", "").endswith("_FAILED")
        and event.get("LogicalResourceId") != stack_name
    ]
    return tuple(failed[:_FAILED_EVENTS_SHOWN])
