"""Validation of the `POST /chat` body: bad input is rejected with a specific 4xx before any model call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent_api import contract
from agent_api.settings import Settings

# A prompt character takes at most 12 bytes in JSON (a character outside the BMP escaped as a surrogate pair,
# "\ud83d\ude00"); a body larger than this bound is not a valid request.
_BYTES_PER_CHAR_BOUND = 12
_BODY_OVERHEAD_BYTES = 4096


class RequestError(Exception):
    """A client error answered as JSON `{"code", "message"}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request, with server-side defaults applied."""

    prompt: str
    session_id: str | None
    max_tokens: int
    temperature: float
    wait: bool = True
    """Whether to wait for a model scaled to zero to wake (streaming `status` events) or be told at once."""


def max_body_bytes(settings: Settings) -> int:
    """Return the largest body worth reading for the configured prompt limit."""
    return settings.max_prompt_chars * _BYTES_PER_CHAR_BOUND + _BODY_OVERHEAD_BYTES


def check_content_type(content_type: str | None) -> None:
    """Accept only `application/json` (parameters such as charset allowed)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {content_type or 'none'!r}",
        )


def parse_chat_request(body: bytes, settings: Settings) -> ChatRequest:
    """Parse and validate a raw body against the settings' limits.

    Raises:
        RequestError: naming the first problem found.

    """
    if len(body) > max_body_bytes(settings):
        raise RequestError(
            413, "body_too_large", f"request body is larger than {max_body_bytes(settings)} bytes"
        )
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RequestError(400, "invalid_body", "request body must be a JSON object")
    accepted = sorted(contract.REQUEST_FIELDS)
    unknown = sorted(set(data) - set(accepted))
    if unknown:
        raise RequestError(
            400, "unknown_field", f"unknown field(s): {', '.join(unknown)} (accepted: {', '.join(accepted)})"
        )
    return ChatRequest(
        prompt=_prompt(data, settings),
        session_id=_session_id(data, settings),
        max_tokens=_max_tokens(data, settings),
        temperature=_temperature(data, settings),
        wait=_wait(data),
    )


def _prompt(data: dict[str, Any], settings: Settings) -> str:
    if "prompt" not in data:
        raise RequestError(400, "missing_field", "field 'prompt' is required")
    prompt = data["prompt"]
    if not isinstance(prompt, str):
        raise RequestError(400, "invalid_field", "field 'prompt' must be a string")
    if not prompt.strip():
        raise RequestError(400, "invalid_field", "field 'prompt' must not be empty")
    if len(prompt) > settings.max_prompt_chars:
        raise RequestError(
            400,
            "prompt_too_long",
            f"field 'prompt' has {len(prompt)} characters; the limit is {settings.max_prompt_chars}",
        )
    return prompt


def _session_id(data: dict[str, Any], settings: Settings) -> str | None:
    session_id = data.get("session_id")
    if session_id is None:
        return None
    if not isinstance(session_id, str) or not contract.SESSION_ID_PATTERN.fullmatch(session_id):
        raise RequestError(
            400,
            "invalid_field",
            f"field 'session_id' must be 1-{contract.SESSION_ID_MAX_CHARS} characters of A-Z a-z 0-9 _ - "
            "starting with a letter or digit",
        )
    if not settings.sessions_enabled:
        raise RequestError(400, "sessions_disabled", "sessions are not enabled on this deployment")
    return session_id


def _max_tokens(data: dict[str, Any], settings: Settings) -> int:
    value = data.get("max_tokens")
    if value is None:
        return settings.max_tokens
    low = contract.MAX_TOKENS.low
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= settings.max_tokens:
        raise RequestError(
            400, "invalid_field", f"field 'max_tokens' must be an integer from {low} to {settings.max_tokens}"
        )
    return value


def _temperature(data: dict[str, Any], settings: Settings) -> float:
    value = data.get("temperature")
    if value is None:
        return settings.temperature
    bounds = contract.TEMPERATURE
    if isinstance(value, bool) or not isinstance(value, int | float) or not bounds.allows(value):
        raise RequestError(
            400,
            "invalid_field",
            f"field 'temperature' must be a number from {bounds.low:g} to {bounds.high:g}",
        )
    return float(value)


def _wait(data: dict[str, Any]) -> bool:
    value = data.get("wait")
    if value is None:
        return True
    if not isinstance(value, bool):
        raise RequestError(400, "invalid_field", "field 'wait' must be true or false")
    return value
