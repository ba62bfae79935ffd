"""Typed errors raised by the SageMaker provider.

Everything the provider raises on its own is a :class:`SageMakerProviderError`, except the two conditions the
Strands agent loop knows how to recover from, which use Strands' own exception types:
``ModelThrottledException`` (the loop retries with back-off) and ``ContextWindowOverflowException`` (the
conversation manager trims the history). :func:`server_error` picks the right one for a server's message.
"""

from __future__ import annotations

import re
from typing import Literal

_MAX_SHOWN_BYTES = 200
_NO_CAPACITY_PREFIX = "Inference Component has no capacity to process this request"

# Phrases that servers use when the prompt does not fit: vLLM ("maximum context length", "maximum model
# length"), SGLang ("longer than the model's context length"), TGI ("`inputs` must have less than N tokens",
# "`inputs` tokens + `max_new_tokens` must be <= N"), LMI/others ("exceeds max model len", "context window",
# "too many tokens"), OpenAI and the proxies that copy it (code "context_length_exceeded").
_CONTEXT_OVERFLOW = re.compile(
    r"context length|context window|context_length_exceeded|maximum model length|max_model_len|max model len"
    r"|`inputs` must have less than|`inputs` tokens \+ `max_new_tokens` must be"
    r"|prompt is too long|input is too long|too many input tokens|too many tokens",
    re.IGNORECASE,
)
# vLLM refusing the requested number of output tokens: a request error that trimming the history does not
# fix, although its message names the context length (vLLM < 0.9, entrypoints/openai/serving_engine.py:
# "'max_tokens' or 'max_completion_tokens' is too large: ..."; vLLM 0.32, renderers/params.py:
# "max_tokens=N cannot be greater than max_model_len=M. Please request fewer output tokens.").
_OUTPUT_TOKENS_TOO_MANY = re.compile(
    r"'max_(?:completion_)?tokens'.{0,40} is too large|max_(?:completion_)?tokens=\d+ cannot be greater"
    r"|request fewer output tokens",
    re.IGNORECASE,
)
# TGI refusing a request whose prompt plus max_new_tokens exceeds the total (router/src/validation.rs,
# ValidationError::MaxTotalTokens): trimming the history fixes it only while max_new_tokens alone is below
# the total, since a prompt keeps at least one token.
_TGI_TOTAL_TOKENS = re.compile(
    r"`inputs` tokens \+ `max_new_tokens` must be <= (?P<total>\d+)\. "
    r"Given: \d+ `inputs` tokens and (?P<new>\d+) `max_new_tokens`"
)
THROTTLING_STATUS = 429


class SageMakerProviderError(Exception):
    """Base class of every error the provider raises itself."""


class ModelStreamError(SageMakerProviderError):
    """The server or the endpoint reported an error inside the response stream.

    Attributes:
        message: The server's own error text.
        error_code: A code given with the error (SageMaker's ``ErrorCode``, the server's ``type``), if any.

    """

    def __init__(self, message: str, error_code: str | None = None) -> None:
        self.message = message
        self.error_code = error_code
        super().__init__(f"{error_code}: {message}" if error_code else message)


class StreamTruncatedError(SageMakerProviderError):
    """The stream ended before its format's end marker (finish reason, ``[DONE]`` or final event).

    Attributes:
        format_name: The response format that was reading the stream.

    """

    def __init__(self, format_name: str, detail: str) -> None:
        self.format_name = format_name
        super().__init__(f"{format_name} stream ended before its end marker: {detail}")


class MalformedChunkError(SageMakerProviderError):
    """A chunk of the response could not be read by the selected format.

    Attributes:
        format_name: The response format that rejected the chunk.
        raw: The offending bytes, complete.

    """

    def __init__(self, format_name: str, raw: bytes, reason: str) -> None:
        self.format_name = format_name
        self.raw = raw
        shown = raw[:_MAX_SHOWN_BYTES]
        ellipsis = f"... ({len(raw)} bytes)" if len(raw) > _MAX_SHOWN_BYTES else ""
        super().__init__(f"malformed {format_name} chunk ({reason}): {shown!r}{ellipsis}")


class EndpointInvocationError(SageMakerProviderError):
    """SageMaker answered the invocation with an error instead of a response.

    Attributes:
        status_code: The container's original HTTP status for a ModelError, else SageMaker's HTTP status.
        error_code: SageMaker's error code (``ModelError``, ``ValidationError``, ...).
        message: The container's original message for a ModelError, else SageMaker's message.

    """

    def __init__(self, status_code: int | None, error_code: str, message: str) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        super().__init__(f"{error_code} (status {status_code}): {message}")


class EndpointTimeoutError(SageMakerProviderError):
    """The endpoint sent nothing within the client's read timeout, before or during the answer.

    Attributes:
        message: What happened, with the underlying error.

    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class EndpointConnectionError(SageMakerProviderError):
    """The connection to the endpoint failed: closed or reset mid-answer, or never established.

    Attributes:
        kind: ``"closed"`` (the connection broke off) or ``"unreachable"`` (it could not be opened).
        message: What happened, with the underlying error.

    """

    def __init__(self, kind: Literal["closed", "unreachable"], message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


class ModelNotReadyError(EndpointInvocationError):
    """The endpoint's inference component has no copy in service (scaled to zero).

    SageMaker refused the invocation at once, nothing was queued. A copy takes minutes to come up once one is
    asked for.
    """


def is_no_capacity(error_code: str, message: str) -> bool:
    """Tell whether SageMaker refused an invocation because its inference component has no copy in service.

    SageMaker answers 400 ``ValidationError`` "Inference Component has no capacity to process this
    request. ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by
    invoking UpdateInferenceComponentRuntimeConfig API." (AWS Machine Learning blog, "Unlock cost savings
    with the new scale down to zero feature in SageMaker Inference", 2024); the code alone is shared by
    every other bad request, so the message's start tells them apart.
    """
    return error_code == "ValidationError" and message.startswith(_NO_CAPACITY_PREFIX)


def is_context_overflow(message: str) -> bool:
    """Tell whether a server's error message says that the prompt does not fit the context window.

    Not when the output tokens asked for cannot fit even with the shortest prompt: trimming the history
    does not fix that request.
    """
    if _CONTEXT_OVERFLOW.search(message) is None or _OUTPUT_TOKENS_TOO_MANY.search(message) is not None:
        return False
    total = _TGI_TOTAL_TOKENS.search(message)
    return total is None or int(total.group("new")) < int(total.group("total"))


def server_error(message: str, error_code: str | None = None, status: int | None = None) -> Exception:
    """Return the exception for an error a server reported in its response body.

    ``status`` is the HTTP status the error object carries, if any: 429 is throttling.
    """
    # Imported here so that the formats (and `replay`) load without Strands: 35-92 ms instead of about 1 s
    # (benchmarks/parser_bench.py, cold import).
    if status == THROTTLING_STATUS:
        from strands.types.exceptions import ModelThrottledException

        return ModelThrottledException(message)
    if is_context_overflow(f"{error_code} {message}" if error_code else message):
        from strands.types.exceptions import ContextWindowOverflowException

        return ContextWindowOverflowException(message)
    return ModelStreamError(message, error_code)
