"""Validation of request bodies: bad input is rejected with a specific 4xx before any model call.

`POST /chat` is parsed here into the pipeline's `TurnRequest`; the other doors' parsers
(`agent_api.doors`) apply the same rules to their own fields.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from strands.types.content import Messages

from agent_api import contract
from agent_api.errors import ErrorReply
from agent_api.settings import Settings

# A prompt character takes at most 12 bytes in JSON (a character outside the BMP escaped as a surrogate pair,
# "\ud83d\ude00"); a body larger than this bound is not a valid request.
_BYTES_PER_CHAR_BOUND = 12
_BODY_OVERHEAD_BYTES = 4096


class RequestError(Exception):
    """A client error, answered with an HTTP status before anything runs; `param` names the field at fault."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param

    def reply(self) -> ErrorReply:
        """Return the error as the client is told it."""
        return ErrorReply(self.code, self.message, self.status, param=self.param)


@dataclass(frozen=True)
class TurnRequest:
    """A validated request for one turn, whatever door it came in by, with server-side defaults applied."""

    prompt: str
    session_id: str | None
    max_tokens: int
    temperature: float
    wait: bool = True
    """Whether the caller waits for a model scaled to zero to wake, or is told at once (503 model_warming)."""
    history: Messages = field(default_factory=list)
    """The conversation to start from, without a session (a session's own conversation is read from it)."""
    instructions: str = ""
    """The caller's instructions, added after the deployment's system prompt."""
    sampling: Mapping[str, Any] = field(default_factory=dict)
    """More generation parameters for the model, in OpenAI's names (`top_p`, `stop`, `seed`, penalties)."""


def max_body_bytes(settings: Settings) -> int:
    """Return the largest body worth reading for the configured prompt limit."""
    return settings.max_prompt_chars * _BYTES_PER_CHAR_BOUND + _BODY_OVERHEAD_BYTES


def check_content_type(content_type: str | None) -> None:
    """Accept only `application/json`, in UTF-8 (the only charset parameter allowed)."""
    media_type, _, parameters = (content_type or "").partition(";")
    charset = _parameter(parameters, "charset")
    if media_type.strip().lower() != "application/json" or charset not in {None, "utf-8"}:
        raise RequestError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {content_type or 'none'!r}",
        )


def _parameter(parameters: str, name: str) -> str | None:
    """Return a media type parameter's value, lowercased and unquoted, or None."""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"').lower()
    return None


def parse_chat_request(body: bytes, settings: Settings) -> TurnRequest:
    """Parse and validate a raw body against the settings' limits.

    Raises:
        RequestError: naming the first problem found.

    """
    return parse_turn_fields(parse_json_object(body, settings), settings, contract.REQUEST_FIELDS)


def parse_turn_fields(data: dict[str, Any], settings: Settings, fields: Sequence[str]) -> TurnRequest:
    """Validate a request's fields as `/chat` names them, accepting only `fields` of them.

    The MCP server's `ask` tool takes `prompt` and `session_id` by the same rules.

    Raises:
        RequestError: naming the first problem found.

    """
    accepted = sorted(fields)
    unknown = sorted(set(data) - set(accepted))
    if unknown:
        raise RequestError(
            400, "unknown_field", f"unknown field(s): {', '.join(unknown)} (accepted: {', '.join(accepted)})"
        )
    return TurnRequest(
        prompt=_prompt(data, settings),
        session_id=_session_id(data, settings),
        max_tokens=parse_max_tokens(data, settings),
        temperature=parse_temperature(data, settings),
        wait=_wait(data),
    )


def parse_json_object(body: bytes, settings: Settings) -> dict[str, Any]:
    """Parse a raw body that must be a JSON object no larger than any valid request.

    Raises:
        RequestError: it is too large, not JSON, or not an object.

    """
    if len(body) > max_body_bytes(settings):
        raise RequestError(
            413, "body_too_large", f"request body is larger than {max_body_bytes(settings)} bytes"
        )
    data = _load_json(body)
    if not isinstance(data, dict):
        raise RequestError(400, "invalid_body", "request body must be a JSON object")
    return data


def _load_json(body: bytes) -> Any:
    """Parse a UTF-8 JSON body; anything the parser cannot hold is a client error, never a 500."""
    try:
        # Decoded first: given bytes, json.loads would also guess UTF-16 and UTF-32, which the API does not
        # accept (RFC 8259 section 8.1: JSON exchanged between systems is UTF-8).
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "invalid_json", f"request body is not UTF-8: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise RequestError(400, "invalid_json", "request body is nested too deeply") from exc
    except ValueError as exc:
        # Python refuses to convert integers longer than sys.get_int_max_str_digits() (4300) digits.
        raise RequestError(
            400,
            "invalid_json",
            f"request body holds an integer of more than {sys.get_int_max_str_digits()} digits",
        ) from exc
    try:
        # An escaped lone surrogate (\ud800) is valid JSON syntax but no Unicode character: it could not
        # be encoded for the model (nor echoed in an error message).
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(
            400, "invalid_json", "request body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)"
        ) from exc
    return data


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
    return None if session_id is None else check_session_id(session_id, settings, "field 'session_id'")


def check_session_id(session_id: object, settings: Settings, where: str) -> str:
    """Return a session id that is well formed and usable here; `where` names it in the error."""
    if not isinstance(session_id, str) or not contract.SESSION_ID_PATTERN.fullmatch(session_id):
        raise RequestError(
            400,
            "invalid_field",
            f"{where} must be 1-{contract.SESSION_ID_MAX_CHARS} characters of A-Z a-z 0-9 _ - "
            "starting with a letter or digit",
        )
    if not settings.sessions_enabled:
        raise RequestError(400, "sessions_disabled", "sessions are not enabled on this deployment")
    return session_id


def parse_max_tokens(data: dict[str, Any], settings: Settings, name: str = "max_tokens") -> int:
    """Return the body's field `name` as a token limit, the settings' default when it is absent or null."""
    value = data.get(name)
    if value is None:
        return settings.max_tokens
    low = contract.MAX_TOKENS.low
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= settings.max_tokens:
        raise RequestError(
            400, "invalid_field", f"field '{name}' must be an integer from {low} to {settings.max_tokens}"
        )
    return value


def parse_temperature(data: dict[str, Any], settings: Settings) -> float:
    """Return the body's `temperature`, the settings' default when it is absent or null."""
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


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing to buffer more than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "body_too_large", f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "body_too_large", f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _wait(data: dict[str, Any]) -> bool:
    value = data.get("wait")
    if value is None:
        return True
    if not isinstance(value, bool):
        raise RequestError(400, "invalid_field", "field 'wait' must be true or false")
    return value
