"""ECR repository, CodeBuild project and the custom resource that builds the serving image during deploy."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks import nag
from stacks.config import ImageSettings
from stacks.image_build.image_tag import ASSET_EXCLUDES, image_tag
from stacks.removal import removal_policy

_HANDLER_DIR = Path(__file__).parent / "handler"

# CloudFormation waits at most one hour for a custom resource (ServiceTimeout, at most 3600 seconds:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html),
# and a build's time in CodeBuild's queue does not count towards its own timeout. So the queue and the build
# each have a bound, the handler stops a build still running at the deadline (from submission) and fails the
# deploy with the build's log link, and the provider's own waiter ("Operation timed out", no link) comes
# later, still inside the hour.
_QUEUE_TIMEOUT = Duration.minutes(5)
_BUILD_TIMEOUT = Duration.minutes(45)
_DEADLINE = Duration.minutes(52)
_WAIT_TIMEOUT = Duration.minutes(56)


class ServingImage(Construct):
    """Builds ``container/`` as ``<repository>:<content-hash tag>`` in CodeBuild; deploy waits for the image.

    ``image_uri`` resolves only once the build finished, so whatever references it (the SageMaker model) is
    created after the image exists.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        container_dir: Path,
        engine: str,
        base_images: ImageSettings,
        pull_through_prefix: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = removal_policy(retain)
        self.tag = image_tag(container_dir, engine)

        self.repository = ecr.Repository(
            self,
            "Repository",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=key,
            lifecycle_rules=[ecr.LifecycleRule(description="Keep the 10 newest images", max_image_count=10)],
            removal_policy=removal,
        )
        # Whenever CloudFormation deletes the repository it holds images: the stack's own on delete (dev), or
        # the image the build pushed when the create that made a retained repository rolls back. "If false,
        # the repository must be empty before attempting to delete it" (AWS::ECR::Repository EmptyOnDelete),
        # and the rollback would fail. Set on the resource itself: CDK's empty_on_delete accepts only
        # RemovalPolicy.DESTROY, and a retained repository is deleted only in that one rollback.
        repository = self.repository.node.default_child
        assert isinstance(repository, ecr.CfnRepository)
        repository.empty_on_delete = True

        base_registry = self._base_registry(base_images, pull_through_prefix)

        source = s3_assets.Asset(self, "Source", path=str(container_dir), exclude=ASSET_EXCLUDES)
        build_logs = logs.LogGroup(
            self, "BuildLogs", retention=log_retention, encryption_key=key, removal_policy=removal
        )
        self.project = codebuild.Project(
            self,
            "Build",
            description="Builds the SageMaker serving container (container/buildspec.yml)",
            source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
            build_spec=codebuild.BuildSpec.from_source_filename("buildspec.yml"),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                # docker build needs the Docker daemon; the large type has the disk for multi-GB CUDA layers.
                privileged=True,
                compute_type=codebuild.ComputeType.LARGE,
            ),
            environment_variables={
                "REPOSITORY_URI": codebuild.BuildEnvironmentVariable(value=self.repository.repository_uri),
                "IMAGE_TAG": codebuild.BuildEnvironmentVariable(value=self.tag),
                "SERVE_ENGINE": codebuild.BuildEnvironmentVariable(value=engine),
                "BASE_REGISTRY": codebuild.BuildEnvironmentVariable(value=base_registry),
            },
            encryption_key=key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=build_logs)
            ),
            timeout=_BUILD_TIMEOUT,
            queued_timeout=_QUEUE_TIMEOUT,
        )
        self.repository.grant_pull_push(self.project)
        if self._cache_rule is not None:
            self._grant_pull_through(pull_through_prefix)
        project_id = nag.logical_id(self.project)
        nag.acknowledge(
            self.project,
            nag.wildcard_actions(nag.BUCKET_READ_ACTIONS, "CDK's read grant on the container/ source asset."),
            nag.wildcard_actions(nag.KEY_GRANT_ACTIONS, "Artifacts and logs use the stack's own key."),
            nag.wildcard_resources(
                ["*"],
                "ecr:GetAuthorizationToken has no resource-level permissions; pushes are scoped to the "
                "serving repository.",
            ),
            nag.wildcard_resources(
                [f"{nag.region_account_arn('logs', self)}:log-group:/aws/codebuild/<{project_id}>:*"],
                "CodeBuild's default log streams of this project only.",
            ),
            nag.wildcard_resources(
                [f"{nag.region_account_arn('codebuild', self)}:report-group/<{project_id}>-*"],
                "Test report groups of this project only (none are used).",
            ),
            {
                "HIPAA.Security-CodeBuildProjectSourceRepoUrl": "The source is an S3 asset: there is no "
                "repository URL that could carry credentials."
            },
            nag.compliance_rule("IAMNoInlinePolicy", "CDK grants write this role's least-privilege policy."),
        )

        self.image_uri = self._wait_for_image(key, log_retention, removal)

    def _base_registry(self, settings: ImageSettings, prefix: str) -> str:
        """Create the pull-through cache rule if chosen; return the ``FROM`` prefix (``""``: Docker Hub)."""
        self._cache_rule: ecr.CfnPullThroughCacheRule | None = None
        if settings.base_images == "docker-hub":
            return ""
        secret = secretsmanager.Secret.from_secret_name_v2(
            self, "DockerHubSecret", settings.docker_hub_secret_name
        )
        # Docker Hub upstreams need credentials (keys username and accessToken) in a secret named
        # ecr-pullthroughcache/... in the rule's account and region (ECR's CreatePullThroughCacheRule
        # credentialArn; https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-secret.html);
        # ECR then pulls with them, not anonymously. The ARN is the secret's partial ARN (no random suffix).
        self._cache_rule = ecr.CfnPullThroughCacheRule(
            self,
            "DockerHubCache",
            ecr_repository_prefix=prefix,
            upstream_registry="docker-hub",
            upstream_registry_url="registry-1.docker.io",
            credential_arn=secret.secret_arn,
        )
        stack = Stack.of(self)
        return f"{stack.account}.dkr.ecr.{stack.region}.{stack.url_suffix}/{prefix}/"

    def _grant_pull_through(self, prefix: str) -> None:
        """Let the build pull through the cache, with ECR's documented pull-through permissions.

        The first pull of an image creates its repository under the prefix and imports it from Docker Hub
        (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
        """
        stack = Stack.of(self)
        assert self.project.role is not None
        self.project.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchImportUpstreamImage",
                    "ecr:CreateRepository",
                ],
                resources=[
                    stack.format_arn(service="ecr", resource="repository", resource_name=f"{prefix}/*")
                ],
            )
        )
        nag.acknowledge(
            self.project,
            nag.wildcard_resources(
                [f"{nag.region_account_arn('ecr', self)}:repository/{prefix}/*"],
                "The pull-through cache creates one repository per upstream image under its own prefix.",
            ),
        )

    def _wait_for_image(
        self, key: kms.IKey, log_retention: logs.RetentionDays, removal: RemovalPolicy
    ) -> str:
        """Add the Provider-framework custom resource (onEvent + isComplete) returning the image URI."""
        handler_logs = logs.LogGroup(
            self, "WaitLogs", retention=log_retention, encryption_key=key, removal_policy=removal
        )
        handler_policy = [
            iam.PolicyStatement(
                actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
                resources=[self.project.project_arn],
            ),
            iam.PolicyStatement(actions=["ecr:DescribeImages"], resources=[self.repository.repository_arn]),
        ]

        def handler(name: str, entry: str) -> lambda_.Function:
            function = lambda_.Function(
                self,
                name,
                runtime=lambda_.Runtime.PYTHON_3_13,
                architecture=lambda_.Architecture.ARM_64,
                code=lambda_.Code.from_asset(
                    str(_HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
                ),
                handler=f"wait_for_image.{entry}",
                timeout=Duration.minutes(1),
                log_group=handler_logs,
                initial_policy=handler_policy,
            )
            nag.acknowledge(
                function,
                nag.lambda_function(
                    logs="Only writes its own logs.",
                    runtime="Same Python runtime as the agent function.",
                    vpc="Calls only the CodeBuild and ECR public APIs.",
                    concurrency="Invoked once per deployment by CloudFormation.",
                    dead_letter_queue="Invoked synchronously by the Provider framework, which reports "
                    "failures to CloudFormation.",
                    inline_policy="Its policy names exactly one project and repository.",
                ),
            )
            return function

        on_event = handler("StartBuild", "on_event")
        is_complete = handler("CheckBuild", "is_complete")
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(30),
            total_timeout=_WAIT_TIMEOUT,
            log_group=handler_logs,
        )
        handler_ids = [nag.logical_id(on_event), nag.logical_id(is_complete)]
        nag.acknowledge(
            provider,
            nag.lambda_function(
                logs="Framework functions only write their own logs.",
                vpc="Framework functions call only Lambda and CloudFormation.",
                concurrency="Invoked once per deployment by CloudFormation.",
                dead_letter_queue="Failures are reported to CloudFormation, which fails the deploy.",
                inline_policy="Framework policies name only this provider's functions.",
            ),
            nag.wildcard_resources(
                [f"<{function_id}.Arn>:*" for function_id in [*handler_ids, *self._framework_ids(provider)]],
                "Invokes any version of this provider's own handler function.",
            ),
            {
                "AwsSolutions-SF1": "The waiter state machine only polls the build; handlers log each step.",
                "AwsSolutions-SF2": "The waiter state machine only polls the build; X-Ray adds nothing.",
            },
        )
        resource = CustomResource(
            self,
            "Image",
            service_token=provider.service_token,
            resource_type="Custom::ServingImage",
            properties={
                "ProjectName": self.project.project_name,
                "RepositoryName": self.repository.repository_name,
                "RepositoryUri": self.repository.repository_uri,
                "ImageTag": self.tag,
                "DeadlineSeconds": _DEADLINE.to_seconds(),
            },
        )
        # The build runs as the project's role: its policy (ECR push, KMS, logs) must exist before the build
        # starts, and the Project resource itself does not wait for it. Likewise the pull-through cache rule
        # that the build's FROM lines pull through: only the build uses it, so only this orders it.
        assert self.project.role is not None
        resource.node.add_dependency(self.project.role)
        if self._cache_rule is not None:
            resource.node.add_dependency(self._cache_rule)
        return resource.get_att_string("ImageUri")

    @staticmethod
    def _framework_ids(provider: cr.Provider) -> list[str]:
        """Logical ids of the framework's own functions that its state machine invokes."""
        return [
            nag.logical_id(child)
            for child in provider.node.find_all()
            if isinstance(child, lambda_.Function)
            and child.node.id in ("framework-isComplete", "framework-onTimeout")
        ]
