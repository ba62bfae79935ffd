"""The SageMaker real-time endpoint serving the model: checks its props, builds, grants, exposes what it made.

Two modes (``endpoint.mode``, docs/deploy.md "Endpoint modes"): ``single-model`` puts the model on the
endpoint's variant and scales instances; ``inference-component`` deploys it as an
``AWS::SageMaker::InferenceComponent`` on a variant without a model, scales its copies (down to zero when
allowed) and lets managed instance scaling add and remove the instances those copies need. The resources are
built by ``execution_role``, ``hosting`` and ``scaling``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.config import EndpointSettings, ModelSettings
from stacks.inference import hosting, scaling
from stacks.inference.execution_role import execution_role, grant_logs
from stacks.inference.hosting import ComponentSpec
from stacks.removal import removal_policy


class InferenceEndpoint(Construct):
    """A GPU SageMaker endpoint running ``image_uri`` with the given model, scaled on concurrency.

    ``endpoint_name`` is fixed (``EnvironmentConfig.endpoint_name``) so that the execution role can be scoped
    to the endpoint's own log group and the alarms can watch it before it exists; it names the instance type,
    so changing the type replaces the endpoint. ``component`` is given exactly in inference-component mode;
    its resources (the component, its log group, its scaling) live in a scope named after it, so a new
    component name, which a new instance type brings, creates them anew beside the new endpoint and
    CloudFormation deletes the old ones afterwards (docs/deploy.md, "What an update does").
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ModelSettings,
        tp_degree: int,
        endpoint: EndpointSettings,
        image_uri: str,
        repository: ecr.IRepository,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        retain: bool,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        component: ComponentSpec | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (component is not None) != endpoint.inference_component:
            raise ValueError(
                f"endpoint.mode {endpoint.mode!r} needs "
                f"{'a' if endpoint.inference_component else 'no'} ComponentSpec, got {component!r}"
            )
        self.endpoint_name = endpoint_name
        self._log_retention, self._key, self._retain = log_retention, key, retain

        self.log_group = self._log_group(self, f"/aws/sagemaker/Endpoints/{endpoint_name}")
        self.role, data_source = execution_role(
            self,
            endpoint_name=endpoint_name,
            repository=repository,
            key=key,
            log_group=self.log_group,
            model=model,
        )
        sagemaker_model = hosting.sagemaker_model(
            self,
            role=self.role,
            image_uri=image_uri,
            model=model,
            tp_degree=tp_degree,
            model_data_source=data_source,
        )
        self.component: sagemaker.CfnInferenceComponent | None = None
        self.component_log_group: logs.LogGroup | None = None
        if component is None:
            self.endpoint = hosting.single_model_endpoint(
                self,
                endpoint_name=endpoint_name,
                endpoint=endpoint,
                model=sagemaker_model,
                rollback_alarms=rollback_alarms,
            )
            self.scalable_target = scaling.scale_instances(self, endpoint=self.endpoint, settings=endpoint)
        else:
            self.endpoint = hosting.component_endpoint(
                self, endpoint_name=endpoint_name, endpoint=endpoint, spec=component, role=self.role
            )
            self._host_component(component, endpoint, sagemaker_model, rollback_alarms)
        self.endpoint.node.add_dependency(self.log_group)

    def _log_group(self, owner: Construct, name: str) -> logs.LogGroup:
        """Create a log group SageMaker writes to, with the stack's retention, key and removal policy."""
        return logs.LogGroup(
            owner,
            "Logs",
            log_group_name=name,
            retention=self._log_retention,
            encryption_key=self._key,
            removal_policy=removal_policy(self._retain),
        )

    def _host_component(
        self,
        spec: ComponentSpec,
        endpoint: EndpointSettings,
        sagemaker_model: sagemaker.CfnModel,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        """Build the component, its own log group and its scaling in a scope named after the component."""
        scoped = Construct(self, spec.name)
        self.component_log_group = self._log_group(scoped, spec.log_group_name)
        grant_logs(self.role, self.component_log_group)
        self.component = hosting.inference_component(
            scoped,
            spec=spec,
            endpoint=endpoint,
            hosted_on=self.endpoint,
            model=sagemaker_model,
            rollback_alarms=rollback_alarms,
        )
        # Before the component: else SageMaker creates the group itself, without retention or the key; and
        # after the role's policy lets SageMaker write to it.
        self.component.node.add_dependency(self.component_log_group, self.role)
        self.scalable_target = scaling.scale_copies(
            scoped, component=self.component, component_name=spec.name, settings=endpoint
        )

    @property
    def endpoint_arn(self) -> str:
        """ARN of the endpoint (SageMaker lower-cases the name inside ARNs)."""
        return self.endpoint.ref

    @property
    def model_log_group_name(self) -> str:
        """The log group the serving container writes to: the component's, else the endpoint's."""
        chosen = self.component_log_group or self.log_group
        return chosen.log_group_name

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke exactly this endpoint (and its component), buffered or streaming.

        In inference-component mode the component's ARN is listed beside the endpoint's: whether SageMaker
        also authorizes an invocation naming a component against the component could not be confirmed offline
        (docs/deploy.md), and listing it grants nothing beyond this one model.
        """
        arns = [self.endpoint_arn]
        if self.component is not None:
            arns.append(self.component.attr_inference_component_arn)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=arns,
        )

    def grant_wake(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Allow ``grantee`` to read its component's state and set its copy count (to wake it from zero)."""
        if self.component is None:
            return None
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:DescribeInferenceComponent",
                "sagemaker:UpdateInferenceComponentRuntimeConfig",
            ],
            resource_arns=[self.component.attr_inference_component_arn],
        )
