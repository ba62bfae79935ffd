"""Structured logs and CloudWatch metrics (Powertools for AWS Lambda).

Logs are JSON lines carrying the request id; prompts and answers are never logged. Metrics are written as
CloudWatch embedded metric format lines on stdout, which Lambda ships to CloudWatch Logs.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from agent_api import contract
from agent_api.contract import (
    CANCELLED_METRIC,
    INPUT_TOKENS_METRIC,
    MODEL_WARMING_REFUSALS_METRIC,
    OUTPUT_TOKENS_METRIC,
    POWERTOOLS_SERVICE_NAME,
    SERVICE_NAME,
    TOOL_CALLS_METRIC,
)

FALLBACK_TURNS_METRIC = "FallbackTurns"
"""The count of turns the fallback model answered (docs/agent-api.md, "A fallback model")."""

logger = Logger(service=os.environ.get(POWERTOOLS_SERVICE_NAME.variable) or SERVICE_NAME)


# Lambda request ids are UUIDs; anything else is echoed in the `x-request-id` header, so only a short token
# of safe characters is kept (a newline or a non-Latin-1 character could not be sent as a header at all).
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from_headers(headers: Mapping[str, str]) -> str:
    """Return the Lambda request id the Web Adapter forwards in `x-amzn-lambda-context`, else a new one.

    An unusable id (missing, malformed, not a short token) is replaced, never an error: the request itself is
    fine, and the header is the adapter's, not the caller's.
    """
    raw = headers.get("x-amzn-lambda-context")
    if raw:
        try:
            context = json.loads(raw)
        except ValueError:
            context = None
        request_id = context.get("request_id") if isinstance(context, dict) else None
        if isinstance(request_id, str) and _REQUEST_ID_PATTERN.fullmatch(request_id):
            return request_id
    return uuid.uuid4().hex


class RequestMetrics:
    """Metrics of one request for a turn, flushed as one EMF document when the request ends.

    One instance per request (`EphemeralMetrics` has no shared state), so concurrent requests served by one
    process (uvicorn locally) never mix their numbers.
    """

    def __init__(self, namespace: str, service: str) -> None:
        self._namespace = namespace
        self._service = service
        self._metrics = EphemeralMetrics(namespace=namespace, service=service)
        self._started = time.monotonic()
        self._first_token_seen = False
        self._tool_sources: dict[str, ToolSourceMetrics] = {}

    def tool_source(self, name: str) -> ToolSourceMetrics:
        """Return the metrics of tool source ``name`` in this request (a document of its own)."""
        if name not in self._tool_sources:
            self._tool_sources[name] = ToolSourceMetrics(self._namespace, self._service, name)
        return self._tool_sources[name]

    def first_token(self) -> None:
        """Record the time to first token, once per request."""
        if not self._first_token_seen:
            self._first_token_seen = True
            elapsed_ms = (time.monotonic() - self._started) * 1000
            self._metrics.add_metric(name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=elapsed_ms)

    def answered(self, input_tokens: int, output_tokens: int, tool_calls: int) -> None:
        """Record what an answered turn used: the tokens the model read and wrote, and its tool calls.

        One value each per turn (0 tool calls included), so a period's average is the average turn.
        """
        self._metrics.add_metric(name=INPUT_TOKENS_METRIC, unit=MetricUnit.Count, value=input_tokens)
        self._metrics.add_metric(name=OUTPUT_TOKENS_METRIC, unit=MetricUnit.Count, value=output_tokens)
        self._metrics.add_metric(name=TOOL_CALLS_METRIC, unit=MetricUnit.Count, value=tool_calls)

    def error(self) -> None:
        """Count one failed request (its code is in the log line)."""
        self._metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)

    def model_warming_refusal(self) -> None:
        """Count one request refused with `503 model_warming` (the model is scaled to zero and waking)."""
        self._metrics.add_metric(name=MODEL_WARMING_REFUSALS_METRIC, unit=MetricUnit.Count, value=1)

    def fallback_turn(self) -> None:
        """Count one turn answered by the fallback model (agent_api.fallback)."""
        self._metrics.add_metric(name=FALLBACK_TURNS_METRIC, unit=MetricUnit.Count, value=1)

    def cancelled(self) -> None:
        """Count one turn stopped because its client went away."""
        self._metrics.add_metric(name=CANCELLED_METRIC, unit=MetricUnit.Count, value=1)

    def flush(self) -> None:
        """Write the recorded metrics, if any: the request's document, then one per tool source it used."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
        for source in self._tool_sources.values():
            source.flush()


class ToolSourceMetrics:
    """One request's metrics of one tool source (an MCP server), dimensioned by `tool_source`: its name.

    A metric document has one set of dimension values, so each source of a request gets its own, written
    with the request's.
    """

    def __init__(self, namespace: str, service: str, source: str) -> None:
        self._metrics = EphemeralMetrics(namespace=namespace, service=service)
        self._metrics.add_dimension(name=contract.TOOL_SOURCE_DIMENSION, value=source)

    def call(self, latency_ms: float, *, error: bool, timeout: bool) -> None:
        """Count one call that took ``latency_ms`` (an error when it failed, a timeout when it ran out)."""
        self._metrics.add_metric(name=contract.TOOL_SOURCE_CALLS_METRIC, unit=MetricUnit.Count, value=1)
        self._metrics.add_metric(
            name=contract.TOOL_SOURCE_LATENCY_METRIC, unit=MetricUnit.Milliseconds, value=latency_ms
        )
        if error:
            self._metrics.add_metric(name=contract.TOOL_SOURCE_ERRORS_METRIC, unit=MetricUnit.Count, value=1)
        if timeout:
            self._metrics.add_metric(
                name=contract.TOOL_SOURCE_TIMEOUTS_METRIC, unit=MetricUnit.Count, value=1
            )

    def unavailable(self) -> None:
        """Count one turn that ran without the source (unreachable, or refused)."""
        self._metrics.add_metric(name=contract.TOOL_SOURCE_UNAVAILABLE_METRIC, unit=MetricUnit.Count, value=1)

    def flush(self) -> None:
        """Write the recorded metrics, if any."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
