"""The agent function's state, and the newest error lines of the model's and the function's logs.

Where each writes:

- an inference component's container: ``/aws/sagemaker/InferenceComponents/<component name>`` (the log group
  AWS's own inference-component examples open, e.g. aws-samples/sagemaker-genai-hosting-examples,
  06-examples/Multi-LoRA-Adapters/SM-Managed-Multi-Adapter-Deployment/multi-adapter-sm-ic-hosting.ipynb);
- a model on the endpoint's variant: ``/aws/sagemaker/Endpoints/<endpoint name>`` (SageMaker Developer
  Guide, "Log groups and streams that Amazon SageMaker AI sends to Amazon CloudWatch Logs");
- the function: the group of its ``LoggingConfig.LogGroup`` (GetFunctionConfiguration), the stack's own,
  ``/aws/lambda/<function name>`` by default.

Only a few lines are read and shown, each cut short; the agent never logs prompts or answers, and neither
engine logs requests unless told to (``model.extra_args``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ops.doctor.account import Account
from ops.doctor.findings import Finding, Status, duration
from stacks.config import EnvironmentConfig

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef

# CloudWatch Logs filter patterns ("?a ?b" matches an event containing any of the terms; terms are case
# sensitive): the engines' ERROR/CRITICAL log levels, Python exceptions and CUDA running out of memory.
MODEL_ERRORS = '?ERROR ?CRITICAL ?Traceback ?Error ?"out of memory"'
# The function's JSON log lines carry "level":"ERROR" (Powertools); Lambda itself reports timeouts and a
# runtime that died in plain text.
FUNCTION_ERRORS = '?ERROR ?CRITICAL ?Traceback ?"Task timed out" ?"Runtime exited"'
LINES_SHOWN = 5
_LINE_CHARS = 240
# Error lines read at most per time range: the newest hour first, then the rest of the window.
_PAGE_EVENTS = 100
_PAGES = 10
_NEWEST = timedelta(hours=1)


def model_log_group(endpoint_name: str, component_name: str | None) -> str:
    """Return the log group the model's container writes to."""
    if component_name is not None:
        return f"/aws/sagemaker/InferenceComponents/{component_name}"
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def check_model_logs(account: Account, group: str) -> Iterator[Finding]:
    """Show the newest error lines of the model's container."""
    yield error_lines(account, "model logs", group, MODEL_ERRORS)


def check_function(account: Account, config: EnvironmentConfig, name: str) -> Iterator[Finding]:
    """Check the agent function's state and reserved concurrency, then show its newest error lines."""
    lambda_ = account.clients.lambda_
    subject = f"function {name}"
    configuration = lambda_.get_function_configuration(FunctionName=name)
    state = configuration.get("State", "Active")
    update = configuration.get("LastUpdateStatus", "Successful")
    reserved = lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    concurrency = "no reserved concurrency" if reserved is None else f"reserved concurrency {reserved}"
    if state == "Failed" or update == "Failed":
        reason = (
            configuration.get("StateReason") or configuration.get("LastUpdateStatusReason") or "no reason"
        )
        yield Finding(
            Status.FAIL,
            subject,
            f"{state}, last update {update}: {reason}",
            f"fix the cause, then cdk deploy -c env={config.name}",
        )
    elif state == "Pending" or update == "InProgress":
        yield Finding(
            Status.WARN,
            subject,
            f"{state}, last update {update}: Lambda is still setting it up",
            f"run make doctor ENV={config.name} again in a minute",
        )
    elif reserved == 0:
        yield Finding(
            Status.FAIL,
            subject,
            "reserved concurrency 0: Lambda throttles every request",
            f"aws lambda delete-function-concurrency --function-name {name}, or give it a reserved "
            f"concurrency above 0 in cdk.json and cdk deploy -c env={config.name}",
        )
    else:
        # Inactive: idle so long that Lambda reclaimed its resources; the next request brings it back.
        yield Finding(Status.OK, subject, f"{state}, last update {update}, {concurrency}")
    group = configuration.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{name}"
    yield error_lines(account, "function logs", group, FUNCTION_ERRORS)


def error_lines(account: Account, subject: str, group: str, pattern: str) -> Finding:
    """Return the newest lines of ``group`` matching ``pattern`` in the window, as a finding."""
    region = account.clients.region
    hours = max(1, round(account.window.total_seconds() / 3600))
    tail = f"aws logs tail {group} --since {hours}h --filter-pattern '{pattern}' --region {region}"
    try:
        events, capped = _newest(account, group, pattern)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return Finding(
            Status.WARN,
            subject,
            f"no log group {group}: nothing has logged there yet",
            "nothing if the model has not started since the deploy; otherwise check that the execution role "
            "may write it (docs/deploy.md)",
        )
    window = duration(account.window)
    if not events:
        return Finding(Status.OK, subject, f"no error lines in {group} in the last {window}")
    count = f"at least {len(events)}" if capped else str(len(events))
    return Finding(
        Status.WARN,
        subject,
        f"{count} error line(s) in {group} in the last {window}, the newest below",
        f"read them in context: {tail}",
        tuple(_show(event) for event in events[-LINES_SHOWN:]),
    )


def _newest(account: Account, group: str, pattern: str) -> tuple[list[FilteredLogEventTypeDef], bool]:
    """Return the matching events, oldest first, and whether there were more than were read.

    FilterLogEvents returns the oldest matches first, so the newest hour is searched on its own first; the
    rest of the window only when the newest hour has fewer than the lines shown.
    """
    ranges = [(max(account.since, account.now - _NEWEST), account.now)]
    if account.window > _NEWEST:
        ranges.append((account.since, account.now - _NEWEST))
    found: list[FilteredLogEventTypeDef] = []
    capped = False
    for start, end in ranges:
        events, more = _search(account, group, pattern, start, end)
        found = events + found
        capped = capped or more
        if len(found) >= LINES_SHOWN:
            break
    return found, capped


def _search(
    account: Account, group: str, pattern: str, start: datetime, end: datetime
) -> tuple[list[FilteredLogEventTypeDef], bool]:
    """Return one time range's matches, oldest first, read a page at a time up to a bound."""
    pages = account.clients.logs.get_paginator("filter_log_events").paginate(
        logGroupName=group,
        filterPattern=pattern,
        startTime=_millis(start),
        endTime=_millis(end),
        PaginationConfig={"MaxItems": _PAGES * _PAGE_EVENTS, "PageSize": _PAGE_EVENTS},
    )
    events = [event for page in pages for event in page.get("events", [])]
    return sorted(events, key=lambda event: event.get("timestamp", 0)), pages.resume_token is not None


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _show(event: FilteredLogEventTypeDef) -> str:
    """Show one event on one line: its time to the second and its message, whitespace folded, cut short."""
    at = datetime.fromtimestamp(event.get("timestamp", 0) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    message = re.sub(r"\s+", " ", event.get("message", "")).strip()
    if len(message) > _LINE_CHARS:
        message = message[: _LINE_CHARS - 3] + "..."
    return f"{at} {message}"
