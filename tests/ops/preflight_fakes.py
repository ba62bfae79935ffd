"""Preflight's clients behind botocore's Stubber, and an environment to check, for the preflight tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import preflight
from stacks.config import EnvironmentConfig, parse_environment

REGION = "us-east-1"
ACCOUNT = "123456789012"
HF = {"model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct", "hf_token_secret_name": "team/hf-token"}}


class FakeApiGateway:
    """API Gateway's GetAccount (no stubs for API Gateway's client are installed); returns ``account``."""

    def __init__(self, account: dict[str, Any]) -> None:
        self.account = account

    def get_account(self) -> dict[str, Any]:
        return self.account


@dataclasses.dataclass
class Stubbed:
    """Preflight's clients with a Stubber on each botocore client."""

    clients: preflight.Clients
    stubs: dict[str, Stubber]


@pytest.fixture(name="stubbed")
def stubbed_clients() -> Iterator[Stubbed]:
    """Preflight's clients, each behind a Stubber; every scripted answer must have been asked for."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    names = {
        "sts": "sts",
        "cloudformation": "cloudformation",
        "service_quotas": "service-quotas",
        "secrets": "secretsmanager",
        "s3": "s3",
        "iam": "iam",
        "sns": "sns",
        "lambda_": "lambda",
        "xray": "xray",
    }
    made = {field: client(service) for field, service in names.items()}
    stubs = {field: Stubber(c) for field, c in made.items()}
    for stub in stubs.values():
        stub.activate()
    clients = preflight.Clients(region=REGION, apigateway=FakeApiGateway({}), **made)
    yield Stubbed(clients, stubs)
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def environment(**sections: Any) -> EnvironmentConfig:
    return parse_environment("dev", {**HF, **sections})
