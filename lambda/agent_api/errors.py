"""Mapping of agent and provider failures to the API's stable error codes and HTTP statuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from strands.types.exceptions import (
    ContextWindowOverflowException,
    EventLoopException,
    ModelThrottledException,
    SessionException,
)

from agent_api.observability import logger
from agent_api.sessions import SessionConflictError, SessionTooLargeError
from sagemaker_provider.errors import (
    EndpointConnectionError,
    EndpointInvocationError,
    EndpointTimeoutError,
    MalformedChunkError,
    ModelNotReadyError,
    ModelStreamError,
    StreamTruncatedError,
)

_MAX_MESSAGE_CHARS = 500
MODEL_WARMING = "model_warming"
"""The code of a request that found the model scaled to zero (HTTP 503 with Retry-After, or an event)."""


@dataclass(frozen=True)
class ErrorReply:
    """What the client is told about a failure: a JSON error answer, or the last event once streaming.

    `code` is stable, `message` readable, and `status` is the HTTP status used when nothing was streamed yet.
    Each door words it in its own shape (`/chat`'s is `body()`).
    """

    code: str
    message: str
    status: int
    param: str | None = None
    """The request field at fault, when there is one (OpenAI's `param`)."""
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """More fields of the error's body, e.g. `waited_s`."""
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Headers of an answer carrying it: `Retry-After` of a refusal, `Allow` of a 405."""

    def body(self) -> dict[str, Any]:
        """Return `{"code", "message"}` and the details, alike in a JSON answer and in an `error` event."""
        return {"code": self.code, "message": self.message, **self.details}


class ReplyError(Exception):
    """A failure already put in the client's words: it ends the turn with `reply`."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def root_cause(exc: BaseException) -> BaseException:
    """Unwrap Strands' `EventLoopException` wrappers to the provider's own exception."""
    while isinstance(exc, EventLoopException):
        exc = exc.original_exception
    return exc


def classify(exc: BaseException, request_id: str) -> ErrorReply:
    """Map an exception raised while answering to an `ErrorReply`; unknown failures hide their details."""
    exc = root_cause(exc)
    if isinstance(exc, ReplyError):
        return exc.reply
    if isinstance(exc, ModelThrottledException):
        return ErrorReply("model_throttled", "the model endpoint is throttling requests; retry later", 429)
    if isinstance(exc, ContextWindowOverflowException):
        return ErrorReply(
            "context_overflow", "the conversation no longer fits the model's context window", 400
        )
    if isinstance(exc, EndpointTimeoutError):
        return ErrorReply("endpoint_timeout", "the model endpoint sent nothing within the read timeout", 504)
    if isinstance(exc, EndpointConnectionError):
        if exc.kind == "unreachable":
            return ErrorReply("endpoint_unreachable", "the model endpoint could not be reached", 502)
        return ErrorReply("endpoint_connection_closed", "the connection to the model endpoint broke off", 502)
    if isinstance(exc, StreamTruncatedError):
        return ErrorReply("stream_truncated", "the model's response stream ended before it was complete", 502)
    if isinstance(exc, MalformedChunkError):
        return ErrorReply(
            "malformed_response", "the model endpoint sent a response that could not be read", 502
        )
    if isinstance(exc, ModelNotReadyError):
        return ErrorReply(
            MODEL_WARMING, "the model is scaled to zero and is being started; retry in a few minutes", 503
        )
    if isinstance(exc, ModelStreamError | EndpointInvocationError):
        return ErrorReply(
            "model_error",
            f"the model endpoint reported an error: {shorten(exc.message, _MAX_MESSAGE_CHARS)}",
            502,
        )
    if isinstance(exc, SessionConflictError):
        return ErrorReply(
            "session_conflict",
            "the session was changed by another request during this turn; this turn was not saved",
            409,
        )
    if isinstance(exc, SessionTooLargeError):
        return ErrorReply(
            "session_too_large",
            "the session has reached its size limit; this turn was not saved: start a new session",
            413,
        )
    if isinstance(exc, SessionException):
        return ErrorReply(
            "session_error", f"the session could not be loaded or saved (request {request_id})", 500
        )
    return ErrorReply("internal_error", f"internal error (request {request_id})", 500)


def shorten(text: str, max_chars: int) -> str:
    """Return `text`, cut to `max_chars` characters with an ellipsis if it is longer."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def http_error_reply(exc: Exception) -> ErrorReply:
    """Answer Starlette's `HTTPException` (no such route: 404, wrong method: 405 with its `Allow` header)."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return ErrorReply(
        codes.get(exc.status_code, "http_error"), str(exc.detail), exc.status_code, headers=exc.headers or {}
    )


def unexpected_error_reply() -> ErrorReply:
    """Log the exception being handled, and answer it without its details."""
    logger.exception("unhandled error")
    return ErrorReply("internal_error", "internal error", 500)
