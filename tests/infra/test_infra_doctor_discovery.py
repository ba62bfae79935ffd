"""What ``make doctor`` finds in a deployed stack (ops/doctor/stack.py) is in every synthesized template.

The doctor discovers what to read from the stack's resources and outputs rather than deriving names again;
these tests fail when a template change would leave it looking for something the stack no longer has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ops.doctor.scaling import COMPONENT_PREFIX, ENDPOINT_VARIANT
from ops.doctor.stack import (
    ALARM,
    COMPONENT_OUTPUT,
    DASHBOARD,
    ENDPOINT_OUTPUT,
    FUNCTION,
    SCALABLE_TARGET,
    DeployedStack,
    Resource,
)
from tests.infra.infra_support import deployed_values, resources

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]
ENVIRONMENTS = ["dev", "prod"]


def as_deployed(template: dict[str, Any], environment: str) -> DeployedStack:
    """The stack as ListStackResources and DescribeStacks would show it (physical ids made up)."""
    rows = tuple(
        Resource(logical, f"physical-{logical}", resource["Type"])
        for logical, resource in template["Resources"].items()
    )
    outputs = {key: f"output-{key}" for key in template.get("Outputs", {})}
    return DeployedStack(f"SageMakerAgent-{environment}", "CREATE_COMPLETE", outputs, rows)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_doctor_finds_the_agent_function_among_the_stacks_functions(
    template: Lookup, environment: str
) -> None:
    functions = resources(template(environment), FUNCTION)
    (agent,) = [logical for logical, f in functions.items() if f["Properties"].get("Handler") == "run.sh"]
    assert len(functions) > 1  # the image build's and CDK's own functions are there too
    assert as_deployed(template(environment), environment).agent_function == f"physical-{agent}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_stack_outputs_the_endpoint_and_its_component(template: Lookup, environment: str) -> None:
    outputs = template(environment)["Outputs"]
    assert ENDPOINT_OUTPUT in outputs
    has_component = bool(resources(template(environment), "AWS::SageMaker::InferenceComponent"))
    assert (COMPONENT_OUTPUT in outputs) == has_component


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_scalable_target_is_a_sagemaker_resource_the_doctor_reads_capacity_of(
    template: Lookup, environment: str
) -> None:
    targets = resources(template(environment), SCALABLE_TARGET)
    assert targets
    for target in targets.values():
        properties = target["Properties"]
        assert properties["ServiceNamespace"] == "sagemaker"
        stack = f"SageMakerAgent-{environment}"
        resource_id = deployed_values(properties["ResourceId"], template(environment), stack)
        assert resource_id.startswith(COMPONENT_PREFIX) or ENDPOINT_VARIANT.fullmatch(resource_id)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alarm_either_notifies_a_topic_or_drives_a_scaling_policy(
    template: Lookup, environment: str
) -> None:
    """The doctor tells watching alarms (SNS actions) from scaling ones (scaling-policy actions) by ARN."""
    t = template(environment)
    topics = set(resources(t, "AWS::SNS::Topic"))
    policies = set(resources(t, "AWS::ApplicationAutoScaling::ScalingPolicy"))
    alarms = resources(t, ALARM)
    assert alarms and resources(t, DASHBOARD)
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        assert actions, f"{name} has no action"
        for action in actions:
            if isinstance(action, str):  # an existing topic named by its ARN
                assert action.split(":")[2] == "sns", (name, action)
            else:
                assert action.get("Ref") in topics | policies, (name, action)
