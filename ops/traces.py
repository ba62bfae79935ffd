"""Preflight's check of where an environment's traces go (``observability`` in cdk.json).

- ``cloudwatch``: CloudWatch's OTLP traces endpoint takes spans only once the account's Transaction Search is
  on in the region, that is when X-Ray's trace segment destination is ``CloudWatchLogs`` ("The OTLP traces
  endpoint requires Transaction Search"; GetTraceSegmentDestination: "The Transaction Search feature requires
  a CloudWatchLogs destination"). Turning it on is two calls, once per account and region ("Enable
  transaction search" in the CloudWatch user guide, using the API): a CloudWatch Logs resource policy letting
  X-Ray write the ``aws/spans`` and ``/aws/application-signals/data`` log groups, then
  ``UpdateTraceSegmentDestination`` to ``CloudWatchLogs``. Its status is ``PENDING`` until it takes effect.
- ``otlp`` with ``otlp_headers_secret``: the secret exists (the function reads it with the first trace).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ops.results import Result
from stacks.agent_api.lambda_contract import contract
from stacks.config import EnvironmentConfig

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

TRANSACTION_SEARCH_POLICY = "TransactionSearchXRayAccess"
SPAN_LOG_GROUPS = ("aws/spans", "/aws/application-signals/data")


class TraceSegmentDestinations(Protocol):
    """The one X-Ray call preflight makes (no mypy-boto3 stubs for X-Ray are installed)."""

    def get_trace_segment_destination(self) -> dict[str, Any]:
        """Return ``Destination`` (``XRay``, ``CloudWatchLogs``) and ``Status`` (``PENDING``, ``ACTIVE``)."""
        ...


def check_traces(
    config: EnvironmentConfig,
    region: str,
    xray: TraceSegmentDestinations,
    sts: STSClient,
    secrets: SecretsManagerClient,
) -> Result:
    """Check the account can take the environment's traces where ``observability.traces`` sends them."""
    traces = config.observability.traces
    if traces == contract.TRACES_CLOUDWATCH:
        return _transaction_search(region, xray, sts)
    secret = config.observability.otlp_headers_secret
    if traces == contract.TRACES_OTLP and secret is not None:
        return _headers_secret(secret, region, secrets)
    return Result(f"traces: {traces}")


def _transaction_search(region: str, xray: TraceSegmentDestinations, sts: STSClient) -> Result:
    name = "traces to CloudWatch: Transaction Search (account setting)"
    answer = xray.get_trace_segment_destination()
    destination, status = answer.get("Destination"), answer.get("Status")
    if destination == "CloudWatchLogs" and status == "ACTIVE":
        return Result(f"{name}: on")
    if destination == "CloudWatchLogs":
        return Result(
            name,
            f"being turned on ({status}): CloudWatch refuses spans until it is ACTIVE, minutes from now",
            f"aws xray get-trace-segment-destination --region {region}   # until Status is ACTIVE",
            warning=True,
        )
    account = sts.get_caller_identity()["Account"]
    return Result(
        name,
        f"off in {region} (X-Ray's trace segment destination is {destination}), so CloudWatch's OTLP "
        "endpoint would refuse the function's spans",
        enable_transaction_search(account, region),
    )


def enable_transaction_search(account: str, region: str) -> str:
    """Return the commands that turn Transaction Search on in ``account`` and ``region``."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TRANSACTION_SEARCH_POLICY,
                "Effect": "Allow",
                "Principal": {"Service": "xray.amazonaws.com"},
                "Action": "logs:PutLogEvents",
                "Resource": [
                    f"arn:aws:logs:{region}:{account}:log-group:{group}:*" for group in SPAN_LOG_GROUPS
                ],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:xray:{region}:{account}:*"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }
    return (
        f"aws logs put-resource-policy --region {region} --policy-name {TRANSACTION_SEARCH_POLICY} "
        f"--policy-document '{json.dumps(policy, separators=(',', ':'))}' && "
        f"aws xray update-trace-segment-destination --region {region} --destination CloudWatchLogs"
    )


def _headers_secret(secret: str, region: str, secrets: SecretsManagerClient) -> Result:
    name = f"traces to an OTLP endpoint: headers secret {secret}"
    try:
        secrets.describe_secret(SecretId=secret)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return Result(
            name,
            f"no such secret in {region}",
            f"aws secretsmanager create-secret --region {region} --name {secret} "
            "--secret-string 'Authorization=Basic%20...'   # or a JSON object of header names to values",
        )
    return Result(name)
