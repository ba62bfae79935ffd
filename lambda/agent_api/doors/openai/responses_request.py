"""Parsing of a `POST /v1/responses` request into the pipeline's `TurnRequest` (docs/agent-api.md).

`input` is a string (the prompt) or a list of input items: messages of the roles `user`, `assistant`,
`system` and `developer` (content a string or `input_text`/`output_text` parts), the last one a user
message, the prompt; the `user` and `assistant` messages before it are the conversation, and `system` and
`developer` messages join `instructions`. Items a client sends back from an earlier response (`reasoning`,
the agent's `mcp_call`s) are accepted and left out: the model is given its earlier answers, not its
reasoning nor its tool calls. With `previous_response_id` the stored response is the conversation, so
`input` holds only the next user message (and instructions). Client tools are refused, as on chat
completions; the optional parameters follow `agent_api.doors.openai.parameters`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

from strands.types.content import Messages

from agent_api.doors.openai import parameters
from agent_api.doors.openai.request_fields import (
    Conversation,
    about,
    check_fields,
    check_model,
    flag,
    message_text,
)
from agent_api.doors.openai.responses_encoder import ResponseHead
from agent_api.settings import Settings
from agent_api.validation import (
    RequestError,
    TurnRequest,
    parse_json_object,
    parse_max_tokens,
    parse_temperature,
)

RESPONSE_ID_PATTERN: Final = re.compile(r"resp_[0-9a-f]{32}")
"""The ids this API gives its responses (part of S3 keys: nothing else is ever looked up)."""
ACCEPTED_FIELDS: Final = (
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "store",
    "stream",
    "max_output_tokens",
    "temperature",
    *parameters.RESPONSES_SAMPLING,
    *parameters.RESPONSES_IGNORED,
)
TEXT_PARTS: Final = ("input_text", "output_text")
MESSAGE_FIELDS: Final = ("type", "role", "content", "id", "status", "phase")
# Items of an earlier response a client may send back: left out of what the model is given.
LEFT_OUT_ITEMS: Final = ("reasoning", "mcp_call", "mcp_list_tools")
# Items that carry a client tool's call or result.
TOOL_ITEMS: Final = (
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "computer_call",
    "computer_call_output",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_approval_request",
    "mcp_approval_response",
)


@dataclass(frozen=True)
class ResponseRequest:
    """A validated `/v1/responses` request: the turn, how it is answered, and what is stored."""

    turn: TurnRequest
    head: ResponseHead
    stream: bool
    store: bool
    previous_response_id: str | None


def new_response_id() -> str:
    """Return a new response id (`resp_` and 32 hex digits)."""
    return f"resp_{uuid.uuid4().hex}"


def parse_response_request(body: bytes, settings: Settings) -> ResponseRequest:
    """Parse and validate a `/v1/responses` body.

    Raises:
        RequestError: naming the first problem found, and the parameter when it is about one (`param`).

    """
    data = parse_json_object(body, settings)
    _check_fields(data)
    check_model(data)
    parameters.check_ignored(data, parameters.RESPONSES_IGNORED)
    sampling = parameters.sampling(data, parameters.RESPONSES_SAMPLING)
    stream = flag(data, "stream") or False
    previous = _previous_response_id(data, settings)
    store = _store(data, settings)
    instructions = _instructions(data)
    extra_instructions, history, prompt = _input(
        data.get("input"), settings, continued=previous is not None, counted=len(instructions)
    )
    max_tokens = about("max_output_tokens", parse_max_tokens, data, settings, "max_output_tokens")
    temperature = about("temperature", parse_temperature, data, settings)
    turn = TurnRequest(
        prompt,
        None,
        max_tokens,
        temperature,
        history=history,
        instructions="\n\n".join(text for text in (instructions, extra_instructions) if text),
        sampling=sampling,
    )
    echo = {
        "instructions": instructions or None,
        "metadata": data.get("metadata") or {},
        "temperature": temperature,
        "top_p": data.get("top_p") if data.get("top_p") is not None else 1.0,
        "max_output_tokens": data.get("max_output_tokens"),
        "previous_response_id": previous,
        "store": store,
        "parallel_tool_calls": data.get("parallel_tool_calls", True),
        "tool_choice": data.get("tool_choice") or "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "truncation": data.get("truncation") or "disabled",
        "user": data.get("user"),
    }
    head = ResponseHead(new_response_id(), int(time.time()), echo)
    return ResponseRequest(turn, head, stream=stream, store=store, previous_response_id=previous)


def _check_fields(data: dict[str, Any]) -> None:
    if "conversation" in data:
        raise RequestError(
            400,
            "unsupported_parameter",
            "'conversation' is not supported: continue a response with 'previous_response_id'",
            "conversation",
        )
    check_fields(data, ACCEPTED_FIELDS)


def _store(data: dict[str, Any], settings: Settings) -> bool:
    """Whether the response is stored: as asked, by default where responses can be stored."""
    store = flag(data, "store")
    if store and not settings.sessions_enabled:
        raise RequestError(
            400,
            "sessions_disabled",
            "responses cannot be stored on this deployment (it has no sessions bucket): send store: false",
            "store",
        )
    return settings.sessions_enabled if store is None else store


def _previous_response_id(data: dict[str, Any], settings: Settings) -> str | None:
    previous = data.get("previous_response_id")
    if previous is None:
        return None
    if not isinstance(previous, str):
        raise RequestError(
            400, "invalid_field", "field 'previous_response_id' must be a string", "previous_response_id"
        )
    if not settings.sessions_enabled:
        raise RequestError(
            400,
            "sessions_disabled",
            "responses are not stored on this deployment (it has no sessions bucket): none can be continued",
            "previous_response_id",
        )
    if not RESPONSE_ID_PATTERN.fullmatch(previous):
        raise previous_not_found(previous)
    return previous


def previous_not_found(response_id: str) -> RequestError:
    """Return the error of a `previous_response_id` the caller has no stored response of (404)."""
    return RequestError(
        404,
        "previous_response_not_found",
        f"Previous response with id {response_id[:64]!r} not found.",
        "previous_response_id",
    )


def _instructions(data: dict[str, Any]) -> str:
    instructions = data.get("instructions")
    if instructions is None:
        return ""
    if not isinstance(instructions, str):
        raise RequestError(400, "invalid_field", "field 'instructions' must be a string", "instructions")
    return instructions


def _input(value: Any, settings: Settings, *, continued: bool, counted: int) -> tuple[str, Messages, str]:
    """Split `input` into instructions, the earlier conversation and the prompt (the last user message).

    `counted` characters of the request (its `instructions`) count against the prompt limit too.
    """
    if isinstance(value, str):
        items: list[Any] = [{"role": "user", "content": value}]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise RequestError(
            400,
            "invalid_field",
            "field 'input' must be a string or a non-empty array of input items",
            "input",
        )
    conversation = Conversation.of(
        (message for index, item in enumerate(items) if (message := _item(item, index)) is not None), counted
    )
    if not conversation.ends_with_user():
        raise RequestError(
            400, "invalid_field", "the last message of 'input' must be a user message", "input"
        )
    if continued and len(conversation.turns) > 1:
        raise RequestError(
            400,
            "invalid_field",
            "with 'previous_response_id', 'input' holds the next user message (and instructions): the "
            "earlier turns come from the stored response",
            "input",
        )
    if conversation.chars > settings.max_prompt_chars:
        raise RequestError(
            400,
            "prompt_too_long",
            f"the instructions and input have {conversation.chars} characters; "
            f"the limit is {settings.max_prompt_chars}",
            "input",
        )
    return conversation.split()


def _item(item: Any, index: int) -> tuple[str, str] | None:
    """Return one input item's role and text; None for an item left out."""
    param = f"input[{index}]"
    if not isinstance(item, dict):
        raise RequestError(400, "invalid_field", f"{param} must be an object", param)
    kind = item.get("type", "message")
    if kind in TOOL_ITEMS:
        raise RequestError(
            400,
            "tools_not_supported",
            f"{param} is a {kind} item: the agent runs its own tools on the server and never asks the client "
            "to run one",
            param,
        )
    if kind in LEFT_OUT_ITEMS:
        return None
    if kind != "message":
        raise RequestError(
            400, "unsupported_content", f"{param}: items of type {kind!r} are not supported", param
        )
    return message_text(item, param, MESSAGE_FIELDS, TEXT_PARTS)
