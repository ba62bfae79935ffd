"""OpenAI's error object, the same in an error answer and in a stream: `{"error": {...}}`."""

from __future__ import annotations

from typing import Any

from agent_api.errors import ErrorReply


def error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status (the SDKs raise their matching exception from the status)."""
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(error: ErrorReply) -> dict[str, Any]:
    """Return the OpenAI error object for an `ErrorReply`; its details (e.g. `waited_s`) join the object."""
    return {
        "error": {
            "message": error.message,
            "type": error_type(error.status),
            "param": error.param,
            "code": error.code,
            **error.details,
        }
    }
