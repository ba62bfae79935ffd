"""What the provider adds to the span of each model call: Strands' ``chat`` span, current while it streams.

OpenTelemetry's API only (the provider never installs a tracer provider or an exporter): without one, the
current span records nothing and each call here costs a check. The response's reader thread runs in a copy of
the caller's context, so it reaches the same span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import trace

ENDPOINT: Final = "sagemaker_provider.endpoint"
INFERENCE_COMPONENT: Final = "sagemaker_provider.inference_component"
RESPONSE_FORMAT: Final = "sagemaker_provider.response_format"
"""The format configured, then the one that read the response (``auto`` finds it from the first payload)."""
TEXT_TOOL_CALLS: Final = "sagemaker_provider.text_tool_calls"
"""How many tool calls were recovered from the answer's text (a server without the right tool parser)."""
REQUEST_ID: Final = "aws.request_id"
"""SageMaker's request id (``x-amzn-RequestId``), under OpenTelemetry's name for an AWS request's id."""


def note(attributes: Mapping[str, str | int]) -> None:
    """Set ``attributes`` on the current span, if it records."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)


def note_invocation(request: Mapping[str, Any], response_format: str) -> None:
    """Note what an ``invoke_endpoint*`` request calls: its endpoint, component if any, and format."""
    attributes = {ENDPOINT: str(request["EndpointName"]), RESPONSE_FORMAT: response_format}
    if request.get("InferenceComponentName"):
        attributes[INFERENCE_COMPONENT] = str(request["InferenceComponentName"])
    note(attributes)


def note_request_id(answer: Mapping[str, Any]) -> None:
    """Note the request id of a boto3 answer, or of a ``ClientError``'s response, if it has one."""
    request_id = answer.get("ResponseMetadata", {}).get("RequestId")
    if isinstance(request_id, str) and request_id:
        note({REQUEST_ID: request_id})
