"""Preflight's check of where traces go, against botocore's Stubber (requests checked by the models)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import preflight
from ops.traces import check_traces, enable_transaction_search
from stacks.config import EnvironmentConfig, parse_environment

REGION = "eu-west-1"
ACCOUNT = "123456789012"
MODEL = {"model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct"}}


@dataclass
class Clients:
    xray: Any
    sts: Any
    secrets: Any
    stubs: dict[str, Stubber]

    def check(self, config: EnvironmentConfig) -> Any:
        return check_traces(config, REGION, self.xray, self.sts, self.secrets)


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = {
        name: boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        for name, service in (("xray", "xray"), ("sts", "sts"), ("secrets", "secretsmanager"))
    }
    stubs = {name: Stubber(client) for name, client in made.items()}
    for stub in stubs.values():
        stub.activate()
    yield Clients(**made, stubs=stubs)
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def environment(**observability: Any) -> EnvironmentConfig:
    return parse_environment("dev", {**MODEL, "observability": observability})


def destination(clients: Clients, destination: str, status: str) -> None:
    clients.stubs["xray"].add_response(
        "get_trace_segment_destination", {"Destination": destination, "Status": status}
    )


def test_traces_off_need_nothing_of_the_account(clients: Clients) -> None:
    result = clients.check(environment())
    assert (result.ok, result.name) == (True, "traces: off")


def test_traces_to_cloudwatch_pass_once_transaction_search_is_active(clients: Clients) -> None:
    destination(clients, "CloudWatchLogs", "ACTIVE")
    result = clients.check(environment(traces="cloudwatch"))
    assert result.ok and result.problem is None


def test_transaction_search_being_turned_on_is_a_warning(clients: Clients) -> None:
    destination(clients, "CloudWatchLogs", "PENDING")
    result = clients.check(environment(traces="cloudwatch"))
    assert result.warning
    assert "PENDING" in (result.problem or "")


def test_transaction_search_off_fails_with_the_commands_that_turn_it_on(clients: Clients) -> None:
    destination(clients, "XRay", "ACTIVE")
    clients.stubs["sts"].add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me", "UserId": "me"}
    )
    result = clients.check(environment(traces="cloudwatch"))
    assert not result.ok
    assert f"off in {REGION}" in (result.problem or "")
    assert result.fix == enable_transaction_search(ACCOUNT, REGION)


def test_the_commands_grant_xray_the_span_log_groups_of_this_account_only() -> None:
    fix = enable_transaction_search(ACCOUNT, REGION)
    put_policy, update = fix.split(" && ")
    document = json.loads(put_policy.split("--policy-document '", 1)[1].rstrip("'"))
    [statement] = document["Statement"]
    assert statement["Principal"] == {"Service": "xray.amazonaws.com"}
    assert statement["Action"] == "logs:PutLogEvents"
    assert statement["Resource"] == [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws/spans:*",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/application-signals/data:*",
    ]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert (
        update == f"aws xray update-trace-segment-destination --region {REGION} --destination CloudWatchLogs"
    )


def test_an_otlp_headers_secret_must_exist(clients: Clients) -> None:
    clients.stubs["secrets"].add_client_error(
        "describe_secret", "ResourceNotFoundException", expected_params={"SecretId": "team/otlp"}
    )
    config = environment(
        traces="otlp", otlp_endpoint="https://otel.example.com", otlp_headers_secret="team/otlp"
    )
    result = clients.check(config)
    assert not result.ok
    assert result.fix is not None and "aws secretsmanager create-secret" in result.fix


def test_an_existing_otlp_headers_secret_passes(clients: Clients) -> None:
    clients.stubs["secrets"].add_response(
        "describe_secret", {"Name": "team/otlp"}, expected_params={"SecretId": "team/otlp"}
    )
    config = environment(
        traces="otlp", otlp_endpoint="https://otel.example.com", otlp_headers_secret="team/otlp"
    )
    assert clients.check(config).ok


def test_an_otlp_endpoint_without_a_secret_needs_nothing_of_the_account(clients: Clients) -> None:
    assert clients.check(environment(traces="otlp", otlp_endpoint="https://otel.example.com")).ok


def test_preflight_runs_the_trace_check() -> None:
    assert preflight.check_trace_destination in preflight.CHECKS
