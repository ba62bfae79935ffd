"""The AWS services the team's Python tools name (`stacks/agent_api/team_aws_services.py`), read from source
for the bundle to keep their models; the bundling that keeps them is tests/infra/test_infra_bundling.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.agent_api.team_aws_services import TeamAwsServices, team_aws_services

pytestmark = pytest.mark.infra


def lambda_root(tmp_path: Path, **modules: str) -> Path:
    """A Lambda source tree whose `team_tools/` holds ``modules`` (file stem -> source)."""
    root = tmp_path / "lambda"
    (root / "agent_api").mkdir(parents=True)
    (root / "agent_api" / "tools.py").write_text('import boto3\nboto3.client("ec2")\n')
    (root / "team_tools").mkdir()
    (root / "team_tools" / "__init__.py").write_text("")
    for stem, source in modules.items():
        (root / "team_tools" / f"{stem}.py").write_text(source)
    return root


ORDERS = '''
import boto3
import botocore.session
from strands import tool

TABLE = boto3.resource("dynamodb").Table("orders")
session = boto3.session.Session(region_name="eu-west-1")


@tool
def order_status(order_id: str) -> str:
    """Return an order's status."""
    events = session.client(service_name="events")
    athena = boto3.Session().client("athena", region_name="us-east-1")
    logs = botocore.session.get_session().create_client("logs")
    return str((TABLE, events, athena, logs))
'''


def test_clients_and_resources_named_by_string_literals_are_found(tmp_path: Path) -> None:
    found = team_aws_services(lambda_root(tmp_path, orders=ORDERS))
    assert found == TeamAwsServices(frozenset({"events", "athena", "logs"}), frozenset({"dynamodb"}))
    assert found.models == {"events", "athena", "logs", "dynamodb"}


def test_every_module_of_the_team_package_counts_and_nothing_else(tmp_path: Path) -> None:
    root = lambda_root(tmp_path, a='import boto3\nboto3.client("sqs")\n', b='x.resource("sns")\n')
    (root / "team_tools" / "__init__.py").write_text('boto3.client("iam")\n')
    (root / "team_tools" / "helpers").mkdir()
    (root / "team_tools" / "helpers" / "db.py").write_text('boto3.client("dynamodb")\n')
    # The built-in tools (agent_api/tools.py, which makes an ec2 client here) are not the team's.
    assert team_aws_services(root) == TeamAwsServices(
        frozenset({"sqs", "iam", "dynamodb"}), frozenset({"sns"})
    )


def test_services_not_named_by_a_literal_are_not_guessed(tmp_path: Path) -> None:
    source = (
        "import boto3, os\n"
        "boto3.client(os.environ['SERVICE'])\n"
        "boto3.client()\n"
        "client('kinesis')\n"  # a plain function, not a boto3 session's or module's client
        "http.client.HTTPConnection('example.com')\n"
    )
    assert team_aws_services(lambda_root(tmp_path, dynamic=source)) == TeamAwsServices()


def test_a_module_that_cannot_be_parsed_is_left_to_the_tool_catalog(tmp_path: Path) -> None:
    root = lambda_root(tmp_path, broken="def (:\n", good='boto3.client("sqs")\n')
    assert team_aws_services(root) == TeamAwsServices(clients=frozenset({"sqs"}))


def test_no_team_tools_folder_names_no_service(tmp_path: Path) -> None:
    root = tmp_path / "lambda"
    (root / "agent_api").mkdir(parents=True)
    (root / "agent_api" / "tools.py").write_text("")
    assert team_aws_services(root) == TeamAwsServices()


def test_the_project_team_tools_call_no_aws_service() -> None:
    # So the real bundle keeps exactly AWS_SERVICES' models (tests/infra/test_infra_lambda_bundle.py).
    assert team_aws_services(Path(__file__).resolve().parents[2] / "lambda") == TeamAwsServices()
