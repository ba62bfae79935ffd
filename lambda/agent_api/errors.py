"""Mapping of agent and provider failures to the API's stable error codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass

from strands.types.exceptions import (
    ContextWindowOverflowException,
    EventLoopException,
    ModelThrottledException,
    SessionException,
)

from sagemaker_provider.errors import (
    EndpointInvocationError,
    MalformedChunkError,
    ModelStreamError,
    StreamTruncatedError,
)

_MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class ApiError:
    """A failure as the client sees it.

    `code` is stable, `message` readable, and `status` is the HTTP status used when nothing was streamed yet.
    """

    code: str
    message: str
    status: int


def root_cause(exc: BaseException) -> BaseException:
    """Unwrap Strands' `EventLoopException` wrappers to the provider's own exception."""
    while isinstance(exc, EventLoopException):
        exc = exc.original_exception
    return exc


def classify(exc: BaseException, request_id: str) -> ApiError:
    """Map an exception raised while answering to an `ApiError`; unknown failures hide their details."""
    exc = root_cause(exc)
    if isinstance(exc, ModelThrottledException):
        return ApiError("model_throttled", "the model endpoint is throttling requests; retry later", 429)
    if isinstance(exc, ContextWindowOverflowException):
        return ApiError("context_overflow", "the conversation no longer fits the model's context window", 400)
    if isinstance(exc, StreamTruncatedError):
        return ApiError("stream_truncated", "the model's response stream ended before it was complete", 502)
    if isinstance(exc, MalformedChunkError):
        return ApiError(
            "malformed_response", "the model endpoint sent a response that could not be read", 502
        )
    if isinstance(exc, ModelStreamError | EndpointInvocationError):
        return ApiError("model_error", f"the model endpoint reported an error: {_short(exc.message)}", 502)
    if isinstance(exc, SessionException):
        return ApiError(
            "session_error", f"the session could not be loaded or saved (request {request_id})", 500
        )
    return ApiError("internal_error", f"internal error (request {request_id})", 500)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"
