"""Reading the Hugging Face token from Secrets Manager (botocore Stubber; no AWS call)."""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from serve_runner import SecretError, read_hf_token

SECRET_ID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf"
TOKEN = "hf_abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def answer(client: Any, secret: dict[str, Any]) -> Stubber:
    stubber = Stubber(client)
    stubber.add_response(
        "get_secret_value", {"ARN": SECRET_ID, "Name": "hf-token", **secret}, {"SecretId": SECRET_ID}
    )
    return stubber


def test_plain_secret_string_is_the_token(client: Any) -> None:
    with answer(client, {"SecretString": f"{TOKEN}\n"}):
        assert read_hf_token(SECRET_ID, client) == TOKEN


@pytest.mark.parametrize("key", ["HF_TOKEN", "token", "hf_token"])
def test_json_secret_holds_the_token_under_a_known_key(client: Any, key: str) -> None:
    with answer(client, {"SecretString": f'{{"{key}": "{TOKEN}"}}'}):
        assert read_hf_token(SECRET_ID, client) == TOKEN


def test_json_secret_without_a_token_key_is_rejected_without_its_value(client: Any) -> None:
    with answer(client, {"SecretString": f'{{"password": "{TOKEN}"}}'}), pytest.raises(SecretError) as raised:
        read_hf_token(SECRET_ID, client)
    assert "without a HF_TOKEN or token or hf_token key" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_binary_secret_is_rejected(client: Any) -> None:
    with answer(client, {"SecretBinary": b"\x00\x01"}), pytest.raises(SecretError, match="has no text value"):
        read_hf_token(SECRET_ID, client)


def test_missing_secret_names_the_variable_and_the_aws_error(client: Any) -> None:
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value",
        service_error_code="ResourceNotFoundException",
        service_message="Secrets Manager can't find the specified secret.",
        expected_params={"SecretId": SECRET_ID},
    )
    with stubber, pytest.raises(SecretError) as raised:
        read_hf_token(SECRET_ID, client)
    assert str(raised.value) == (
        f"cannot read SERVE_HF_TOKEN_SECRET={SECRET_ID}: ResourceNotFoundException: "
        "Secrets Manager can't find the specified secret."
    )


def test_access_denied_is_reported(client: Any) -> None:
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value", service_error_code="AccessDeniedException", service_message="no"
    )
    with stubber, pytest.raises(SecretError, match="AccessDeniedException: no"):
        read_hf_token(SECRET_ID, client)
