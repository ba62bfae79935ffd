"""Fixtures of the operator tools' tests: the doctor's account, every client behind botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.doctor.account import Account, Clients
from tests.ops.doctor_fakes import NOW, REGION

# Clients field -> botocore service name.
_SERVICES = {
    "sts": "sts",
    "cloudformation": "cloudformation",
    "sagemaker": "sagemaker",
    "autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
    "sns": "sns",
    "lambda_": "lambda",
}


class Stubbed:
    """The doctor's account on stubbed clients; ``stub["cloudwatch"]`` scripts one client's answers."""

    def __init__(self, account: Account, stubs: dict[str, Stubber]) -> None:
        self.account = account
        self.stub = stubs


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    """Every client the doctor uses, stubbed; each must have answered every scripted call by the end."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    made = {field: client(service) for field, service in _SERVICES.items()}
    stubs = {field: Stubber(made_client) for field, made_client in made.items()}
    for stub in stubs.values():
        stub.activate()
    account = Account(Clients(region=REGION, **made), now=NOW, window=timedelta(hours=24))
    yield Stubbed(account, stubs)
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()
