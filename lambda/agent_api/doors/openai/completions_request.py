"""Parsing of a `/v1/chat/completions` request into the pipeline's `TurnRequest` (docs/agent-api.md).

The last `user` message is the prompt and the `user`/`assistant` messages before it the history; `system` and
`developer` messages are the caller's instructions. The optional parameters follow `parameters`: sampling
reaches the model, what asks nothing of the answer is accepted, and what the agent would not honour is
refused, never silently dropped; every error names its parameter (OpenAI's `param`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from strands.types.content import Messages

from agent_api import contract
from agent_api.doors.openai import parameters
from agent_api.doors.openai.request_fields import (
    Conversation,
    about,
    check_fields,
    check_model,
    flag,
    message_text,
)
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
MESSAGE_FIELDS: Final = ("role", "content", "name")
TEXT_PARTS: Final = ("text",)


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
    check_fields(data, ACCEPTED_FIELDS)
    check_model(data)
    parameters.check_ignored(data, parameters.COMPLETIONS_IGNORED)
    sampling = parameters.sampling(data, parameters.SAMPLING)
    stream = flag(data, "stream") or False
    include_usage = _stream_options(data, stream)
    instructions, history, prompt = _conversation(data, settings)
    if session_id is not None:
        session_id = check_session_id(session_id, settings, f"header {contract.SESSION_ID_HEADER}")
    # `max_completion_tokens` is the current name of `max_tokens`, which OpenAI keeps as deprecated: both
    # must be valid, and the current one wins.
    max_tokens = about("max_tokens", parse_max_tokens, data, settings, "max_tokens")
    if data.get("max_completion_tokens") is not None:
        max_tokens = about("max_completion_tokens", parse_max_tokens, data, settings, "max_completion_tokens")
    temperature = about("temperature", parse_temperature, data, settings)
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
    flag(options, "include_obfuscation")
    return flag(options, "include_usage") or False


def _conversation(data: dict[str, Any], settings: Settings) -> tuple[str, Messages, str]:
    """Split `messages` into the caller's instructions, the earlier turns, and the prompt (the last one)."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "invalid_field", "field 'messages' must be a non-empty array", "messages")
    conversation = Conversation.of(_message(message, index) for index, message in enumerate(messages))
    if messages[-1]["role"] != "user":
        raise RequestError(400, "invalid_field", "the last message must be a user message", "messages")
    if conversation.chars > settings.max_prompt_chars:
        raise RequestError(
            400,
            "prompt_too_long",
            f"the messages have {conversation.chars} characters; the limit is {settings.max_prompt_chars}",
            "messages",
        )
    return conversation.split()


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
    return message_text(message, param, MESSAGE_FIELDS, TEXT_PARTS)
