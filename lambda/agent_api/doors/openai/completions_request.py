"""Parsing of a `/v1/chat/completions` request into the pipeline's `TurnRequest` (docs/agent-api.md).

The last `user` message is the prompt and the `user`/`assistant` messages before it the history; `system` and
`developer` messages are the caller's instructions. The optional parameters follow `parameters`: sampling
reaches the model, what asks nothing of the answer is accepted, and what the agent would not honour is
refused, never silently dropped; every error names its parameter (OpenAI's `param`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from strands.types.content import Message, Messages

from agent_api import contract
from agent_api.doors.openai import parameters
from agent_api.settings import Settings
from agent_api.validation import (
    RequestError,
    TurnRequest,
    check_session_id,
    parse_json_object,
    parse_max_tokens,
    parse_temperature,
)

ACCEPTED_FIELDS: Final = (
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    *parameters.SAMPLING,
    *parameters.COMPLETIONS_IGNORED,
)
STREAM_OPTIONS: Final = ("include_usage", "include_obfuscation")
# System and developer messages are the caller's instructions; user and assistant ones the conversation.
INSTRUCTION_ROLES: Final = ("system", "developer")
CONVERSATION_ROLES: Final = ("user", "assistant")
MESSAGE_FIELDS: Final = ("role", "content", "name")
_T = TypeVar("_T")


@dataclass(frozen=True)
class CompletionRequest:
    """A validated `/v1/chat/completions` request: the turn to answer and how to answer it."""

    turn: TurnRequest
    stream: bool
    include_usage: bool


def parse_completion_request(body: bytes, settings: Settings, session_id: str | None) -> CompletionRequest:
    """Parse and validate a `/v1/chat/completions` body; `session_id` is the session header's value.

    Raises:
        RequestError: naming the first problem found, and the parameter when it is about one (`param`).

    """
    data = parse_json_object(body, settings)
    _check_fields(data)
    _check_model(data)
    parameters.check_ignored(data, parameters.COMPLETIONS_IGNORED)
    sampling = parameters.sampling(data, parameters.SAMPLING)
    stream = _flag(data, "stream")
    include_usage = _stream_options(data, stream)
    instructions, history, prompt = _conversation(data, settings)
    if session_id is not None:
        session_id = check_session_id(session_id, settings, f"header {contract.SESSION_ID_HEADER}")
    # `max_completion_tokens` is the current name of `max_tokens`, which OpenAI keeps as deprecated: both
    # must be valid, and the current one wins.
    max_tokens = _about("max_tokens", parse_max_tokens, data, settings, "max_tokens")
    if data.get("max_completion_tokens") is not None:
        max_tokens = _about(
            "max_completion_tokens", parse_max_tokens, data, settings, "max_completion_tokens"
        )
    temperature = _about("temperature", parse_temperature, data, settings)
    turn = TurnRequest(
        prompt,
        session_id,
        max_tokens,
        temperature,
        # With a session, the stored conversation is the history: the request's earlier turns are not used.
        history=[] if session_id is not None else history,
        instructions=instructions,
        sampling=sampling,
    )
    return CompletionRequest(turn, stream=stream, include_usage=include_usage)


def _about(param: str, parse: Callable[..., _T], *args: Any) -> _T:
    """Run a `/chat` field parser, naming `param` in the error it raises."""
    try:
        return parse(*args)
    except RequestError as exc:
        raise RequestError(exc.status, exc.code, exc.message, param) from exc


def _check_fields(data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - set(ACCEPTED_FIELDS))
    if unknown:
        raise RequestError(
            400,
            "unsupported_parameter",
            f"unsupported parameter(s): {', '.join(unknown)} (accepted: {', '.join(ACCEPTED_FIELDS)})",
            unknown[0],
        )


def _check_model(data: dict[str, Any]) -> None:
    if "model" not in data:
        raise RequestError(400, "missing_field", "field 'model' is required", "model")
    if data["model"] != contract.OPENAI_MODEL_ID:
        raise RequestError(
            404,
            "model_not_found",
            f"model {data['model']!r} does not exist; this API serves {contract.OPENAI_MODEL_ID!r}",
            "model",
        )


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(400, "invalid_field", f"field '{name}' must be a boolean", name)
    return value


def _stream_options(data: dict[str, Any], stream: bool) -> bool:
    """Return `stream_options.include_usage` (`include_obfuscation` is accepted: no chunk is ever padded)."""
    options = data.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise RequestError(
            400, "invalid_field", "'stream_options' is only allowed when 'stream' is true", "stream_options"
        )
    if not isinstance(options, dict) or set(options) - set(STREAM_OPTIONS):
        raise RequestError(
            400,
            "invalid_field",
            f"field 'stream_options' must be an object with at most {' and '.join(STREAM_OPTIONS)}",
            "stream_options",
        )
    _flag(options, "include_obfuscation")
    return _flag(options, "include_usage")


def _conversation(data: dict[str, Any], settings: Settings) -> tuple[str, Messages, str]:
    """Split `messages` into the caller's instructions, the earlier turns, and the prompt (the last one)."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "invalid_field", "field 'messages' must be a non-empty array", "messages")
    instructions: list[str] = []
    turns: Messages = []
    total_chars = 0
    for index, message in enumerate(messages):
        role, text = _message(message, index)
        total_chars += len(text)
        if role in INSTRUCTION_ROLES:
            instructions.append(text)
        else:
            turns.append(cast(Message, {"role": role, "content": [{"text": text}]}))
    if messages[-1]["role"] != "user":
        raise RequestError(400, "invalid_field", "the last message must be a user message", "messages")
    if total_chars > settings.max_prompt_chars:
        raise RequestError(
            400,
            "prompt_too_long",
            f"the messages have {total_chars} characters; the limit is {settings.max_prompt_chars}",
            "messages",
        )
    prompt = turns.pop()["content"][0]["text"]
    return "\n\n".join(instructions), turns, prompt


def _message(message: object, index: int) -> tuple[str, str]:
    """Return one message's role and text."""
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise RequestError(400, "invalid_field", f"{param} must be an object", param)
    role = message.get("role")
    if role in ("tool", "function") or "tool_calls" in message or "function_call" in message:
        raise RequestError(
            400,
            "tools_not_supported",
            f"{param} carries a tool call or result: the agent runs its own tools on the server, "
            "so the conversation holds only system, developer, user and assistant text",
            param,
        )
    if role not in INSTRUCTION_ROLES + CONVERSATION_ROLES:
        allowed = ", ".join(INSTRUCTION_ROLES + CONVERSATION_ROLES)
        raise RequestError(400, "invalid_field", f"{param}.role must be one of {allowed}", f"{param}.role")
    unknown = sorted(set(message) - set(MESSAGE_FIELDS))
    if unknown:
        raise RequestError(
            400, "invalid_field", f"{param} has unsupported field(s): {', '.join(unknown)}", param
        )
    text = _text(message.get("content"), f"{param}.content")
    if not text.strip():
        raise RequestError(400, "invalid_field", f"{param}.content must not be empty", f"{param}.content")
    return str(role), text


def _text(content: object, param: str) -> str:
    """Return a message's content as text: a string, or an array of text parts (joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        if len(texts) == len(content):
            return "".join(texts)
        raise RequestError(
            400, "unsupported_content", f"{param}: only text content parts are supported", param
        )
    raise RequestError(
        400, "invalid_field", f"{param} must be a string or a non-empty array of text parts", param
    )
