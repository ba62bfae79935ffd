"""An environment's settings and the names and sizes derived from them (stack, endpoint, copies)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stacks.agent_api.lambda_contract import contract
from stacks.config.schema import (
    FUNCTION_CONCURRENCY_PER_REQUEST,
    AgentSettings,
    ApiSettings,
    EndpointSettings,
    ImageSettings,
    LambdaSettings,
    ModelSettings,
    MonitoringSettings,
    ObservabilitySettings,
    rule,
)
from stacks.inference.serving_contract import serving
from stacks.instance_types import GPU_COUNT, MEMORY_GIB

_ACCOUNT = re.compile(r"^\d{12}$")


def instances_for(copies: int, copies_per_instance: int) -> int:
    """Instances that hold ``copies`` copies of an inference component (rounded up)."""
    return -(-copies // copies_per_instance)


@dataclass(frozen=True)
class EnvironmentConfig:
    """One deployment environment: where it goes and every setting of its stack."""

    name: str
    account: str | None = rule(None, "a 12-digit AWS account id", lambda v: bool(_ACCOUNT.match(v)))
    region: str | None = rule(
        None, "an AWS region like 'us-east-1'", lambda v: bool(contract.REGION_PATTERN.fullmatch(v))
    )
    retain_data: bool = rule(False, "true or false (keep the ECR repository, sessions and logs on delete)")
    model: ModelSettings = field(default_factory=ModelSettings)
    image: ImageSettings = field(default_factory=ImageSettings)
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    lambda_: LambdaSettings = field(default_factory=LambdaSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)

    @property
    def gpu_count(self) -> int:
        """GPUs per instance of the endpoint's instance type."""
        return GPU_COUNT[self.endpoint.instance_type]

    @property
    def tp_degree(self) -> int:
        """Tensor-parallel degree: the configured one, else every GPU of the instance."""
        return self.model.tp_degree or self.gpu_count

    @property
    def copies_per_instance(self) -> int:
        """Copies of the model one instance holds: each copy takes ``tp_degree`` of the instance's GPUs."""
        return self.gpu_count // self.tp_degree

    @property
    def copy_memory_mb(self) -> int:
        """Host memory one copy reserves (MinMemoryRequiredInMb): half its GPUs' share of the instance's.

        SageMaker places a copy only on an instance with this much memory free, and its own agents and the
        container runtime use some of every instance's memory, so a copy never asks for its full share.
        """
        share_gib = MEMORY_GIB[self.endpoint.instance_type] * self.tp_degree / self.gpu_count
        return int(share_gib * 1024) // 2

    @property
    def max_ic_instances(self) -> int:
        """Instances managed instance scaling may run: enough for ``max_copies`` copies."""
        return instances_for(self.endpoint.max_copies, self.copies_per_instance)

    @property
    def inference_component_name(self) -> str | None:
        """The inference component's name (inference-component mode), derived from the endpoint's.

        It names the instance type through the endpoint's name, so a new instance type, which replaces the
        endpoint, creates the component under a new name instead of colliding with the old one. The
        component's resources are scoped by this name (``stacks/inference/construct.py``): it changes exactly
        when their logical ids do, so no new resource ever shares a physical name with one CloudFormation is
        about to delete. (Before those scopes the suffix was ``-model``; the new suffix gives the first
        deploy after that change the same clean replacement, docs/deploy.md.)
        """
        return f"{self.endpoint_name}-ic" if self.endpoint.inference_component else None

    @property
    def model_concurrency(self) -> int:
        """Return the requests the endpoint serves at once at its largest.

        That is the scaling target times the most instances (single-model) or copies (inference-component)
        autoscaling may run.
        """
        endpoint = self.endpoint
        most = endpoint.max_copies if endpoint.inference_component else endpoint.max_instances
        return endpoint.target_concurrent_requests * most

    @property
    def function_concurrency(self) -> int:
        """Return the agent function's reserved concurrency.

        ``lambda.reserved_concurrency``, else ``FUNCTION_CONCURRENCY_PER_REQUEST`` executions per request the
        endpoint serves at once.
        """
        configured = self.lambda_.reserved_concurrency
        return (
            configured
            if configured is not None
            else FUNCTION_CONCURRENCY_PER_REQUEST * self.model_concurrency
        )

    @property
    def text_tool_calls(self) -> str:
        """The agent's ``AGENT_TEXT_TOOL_CALLS``: the model family's tool-call syntax, else ``false``."""
        syntax = serving.text_tool_call_syntax(
            self.model.engine, self.model.profile, self.model.tool_call_parser
        )
        return syntax or contract.TEXT_TOOL_CALLS_OFF

    @property
    def stack_name(self) -> str:
        """CloudFormation stack name of this environment."""
        return f"SageMakerAgent-{self.name}"

    @property
    def pull_through_prefix(self) -> str:
        """The ECR pull-through cache rule's repository prefix (``image.base_images: ecr-pull-through``)."""
        return self.image.pull_through_prefix or f"{self.name.lower()}-docker-hub"

    @property
    def endpoint_name(self) -> str:
        """The SageMaker endpoint's name, which names its instance type (at most 63 characters).

        Application Auto Scaling refuses an endpoint update that changes the instance type of a registered
        variant (SageMaker guide, "Update endpoints that use auto scaling"). A new name makes CloudFormation
        create a new endpoint instead (EndpointName: "Update requires: Replacement"), register the scalable
        target on it, and only then delete the old target and endpoint.
        """
        return f"{self.stack_name}-{self.endpoint.instance_type.removeprefix('ml.').replace('.', '-')}"
