"""The AWS services the team's Python tools make boto3 clients and resources of, read from their source.

The bundle keeps botocore's models of the services the function itself calls only (`bundling.AWS_SERVICES`),
and none of boto3's resource models. A team tool (`lambda/team_tools/`, docs/tools.md) that calls another
service would then work on the local stack, which has every model, and fail in Lambda with botocore's
`UnknownServiceError`. So bundling keeps the models of the services these modules name too: synth reads
them with `ast` (the CDK app never imports the function's code) and finds each call `<anything>.client(...)`,
`<anything>.resource(...)` or botocore's `<anything>.create_client(...)` whose service is a string literal,
its first argument or `service_name=` (`boto3.client("dynamodb")`, `session.resource(service_name="s3")`).
A name botocore does not know is left to fail as it does everywhere; a service named only at run time (a
variable) is not found, and docs/tools.md says so.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from stacks.agent_api.lambda_contract import tool_catalog


@dataclass(frozen=True)
class TeamAwsServices:
    """The services of the team's boto3 clients and of its boto3 resources, by botocore name."""

    clients: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()

    @property
    def models(self) -> frozenset[str]:
        """The services whose botocore model the bundle must keep: a resource is built on a client."""
        return self.clients | self.resources


def team_aws_services(lambda_root: Path) -> TeamAwsServices:
    """Return the services the team's modules under ``lambda_root`` make clients and resources of.

    Every module of the team's package counts, its tools' and their helpers' (in subpackages too): the whole
    package is bundled. One that cannot be read or parsed is skipped: a tool module's problem fails synth
    already (agent_api.tool_catalog), and a helper's fails the same everywhere.
    """
    clients: set[str] = set()
    resources: set[str] = set()
    found = {"client": clients, "create_client": clients, "resource": resources}
    for path in sorted((lambda_root / tool_catalog.TEAM_PACKAGE).rglob("*.py")):
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            service = _service_name(node)
            if node.func.attr in found and service is not None:
                found[node.func.attr].add(service)
    return TeamAwsServices(frozenset(clients), frozenset(resources))


def _service_name(call: ast.Call) -> str | None:
    """Return the service a ``client``/``resource`` call names as a string literal, else None."""
    candidates = [call.args[0]] if call.args else []
    candidates += [keyword.value for keyword in call.keywords if keyword.arg == "service_name"]
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None
