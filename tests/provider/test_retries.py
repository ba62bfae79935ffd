"""One layer retries a throttled model call: Strands' retry strategy, not botocore's retries under it."""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.config import Config
from strands import Agent, ModelRetryStrategy
from strands.types.exceptions import ModelThrottledException

from sagemaker_provider import SageMakerModel
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Throttle, sagemaker_client

LOGGER = "sagemaker_provider.transport"


def test_the_providers_own_client_makes_one_http_call_per_strands_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    with SageMakerRuntime(Throttle()) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, endpoint_url=endpoint.url, region_name="us-east-1")
        agent = Agent(
            model=model,
            callback_handler=None,
            retry_strategy=ModelRetryStrategy(max_attempts=3, initial_delay=0, max_delay=0),
        )
        with pytest.raises(ModelThrottledException):
            agent("Hello?")
        calls = len(endpoint.requests)
    # botocore's standard mode would make 3 calls per attempt: 9 in all.
    assert calls == 3


def test_a_callers_client_that_retries_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        SageMakerModel(endpoint_name="e", client=session.client("sagemaker-runtime"))
    assert "the attempts multiply" in caplog.text
    assert "total_max_attempts=<standard default>" in caplog.text


def test_a_callers_client_that_does_not_retry_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        SageMakerModel(endpoint_name="e", client=sagemaker_client("http://127.0.0.1:1"))
    assert caplog.text == ""


def test_retries_asked_for_in_client_config_are_kept_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model = SageMakerModel(
            endpoint_name="e", boto_session=session, client_config=Config(retries={"total_max_attempts": 4})
        )
    assert model.client.meta.config.retries["total_max_attempts"] == 4
    assert "total_max_attempts=<4>" in caplog.text
