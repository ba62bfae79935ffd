"""A Bedrock Converse request body translated to a streamed OpenAI chat-completions request.

Shapes from botocore's ``bedrock-runtime`` service model (``ConverseRequest``): ``system`` blocks become one
system message; ``messages`` keep their order, an assistant's ``toolUse`` blocks becoming its ``tool_calls``
and a user's ``toolResult`` blocks ``tool`` messages right after them; ``inferenceConfig`` becomes
``max_tokens``/``temperature``/``top_p``/``stop``; ``toolConfig``'s ``toolSpec``s become ``tools`` and its
``toolChoice`` (``auto``/``any``/``tool``) the ``tool_choice`` (``auto``/``required``/named). Prompt-cache
markers are ignored and earlier reasoning dropped (chat completions take neither back). Content a chat
completions server cannot take, and request fields the emulator does not emulate (guardrails, prompt
management, structured output), are refused with a ``ConverseRequestError`` naming them: the caller answers
it as a ``ValidationException``. So are two messages of the same role in a row, and a tool call's id or name
that does not match its pattern in botocore's model (``ToolUseId``, ``ToolName``), as Bedrock refuses them.
"""

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import botocore.session

_IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
_NOT_EMULATED = ("guardrailConfig", "promptVariables", "outputConfig")
"""Request fields that change what Bedrock does in ways the translation cannot honour."""
FIRST_MESSAGE_MESSAGE = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user "
    "message."
)
ALTERNATE_ROLES_MESSAGE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates "
    "between user and assistant roles and try again."
)


class ConverseRequestError(ValueError):
    """The request is not one the emulator can answer; the message says which part and why."""


@dataclass(frozen=True)
class ChatRequest:
    """The translated request: the chat-completions body, and the stop sequences it asked for."""

    body: dict[str, Any]
    stop_sequences: tuple[str, ...]


def to_chat_request(request: object) -> ChatRequest:
    """Translate a parsed Converse request body to a streamed chat-completions request."""
    fields = _object(request, "the request body")
    for name in _NOT_EMULATED:
        if name in fields:
            raise ConverseRequestError(f"The emulator does not emulate {name}.")
    messages = _list(fields.get("messages"), "messages")
    if not messages:
        raise ConverseRequestError("messages must hold at least one message.")
    chat_messages = _system(fields.get("system", []))
    previous_tool_uses: set[str] = set()
    previous_role = None
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        role = _object(message, where).get("role")
        if index == 0 and role != "user":
            raise ConverseRequestError(FIRST_MESSAGE_MESSAGE)
        if role == previous_role:
            raise ConverseRequestError(ALTERNATE_ROLES_MESSAGE)
        previous_role = role
        blocks = _list(message.get("content"), f"{where}.content")
        if role == "assistant":
            assistant, previous_tool_uses = _assistant_message(blocks, where)
            chat_messages.append(assistant)
        elif role == "user":
            chat_messages.extend(_user_messages(blocks, where, previous_tool_uses))
            previous_tool_uses = set()
        else:
            raise ConverseRequestError(f"{where}.role must be 'user' or 'assistant', got {role!r}.")
    body: dict[str, Any] = {
        "messages": chat_messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    stop_sequences = _inference_config(fields.get("inferenceConfig", {}), body)
    if "toolConfig" in fields:
        _tool_config(fields["toolConfig"], body)
    return ChatRequest(body, stop_sequences)


def _system(blocks: object) -> list[dict[str, Any]]:
    texts = []
    for index, block in enumerate(_list(blocks, "system")):
        where = f"system.{index}"
        kind = _kind(block, where)
        if kind == "text":
            texts.append(_string(block["text"], f"{where}.text"))
        elif kind == "guardContent":
            texts.append(_guarded_text(block["guardContent"], f"{where}.guardContent"))
        elif kind != "cachePoint":
            raise ConverseRequestError(f"The emulator does not translate {kind} blocks ({where}).")
    # One system message: the chat templates of most models take a single one, first.
    return [{"role": "system", "content": "\n".join(texts)}] if texts else []


def _assistant_message(blocks: list[Any], where: str) -> tuple[dict[str, Any], set[str]]:
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        block_where = f"{where}.content.{index}"
        kind = _kind(block, block_where)
        if kind == "text":
            texts.append(_string(block["text"], f"{block_where}.text"))
        elif kind == "toolUse":
            tool_use = _object(block["toolUse"], f"{block_where}.toolUse")
            tool_calls.append(
                {
                    "id": _matching(
                        tool_use.get("toolUseId"), "ToolUseId", f"{block_where}.toolUse.toolUseId"
                    ),
                    "type": "function",
                    "function": {
                        "name": _matching(tool_use.get("name"), "ToolName", f"{block_where}.toolUse.name"),
                        "arguments": json.dumps(tool_use.get("input", {}), ensure_ascii=False),
                    },
                }
            )
        elif kind not in ("reasoningContent", "cachePoint"):
            raise ConverseRequestError(f"The emulator does not translate {kind} blocks ({block_where}).")
    message: dict[str, Any] = {"role": "assistant", "content": "\n".join(texts)}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message, {call["id"] for call in tool_calls}


def _user_messages(blocks: list[Any], where: str, tool_uses: set[str]) -> list[dict[str, Any]]:
    # Tool results must directly follow the assistant's tool calls, so they come before the user's content.
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        block_where = f"{where}.content.{index}"
        kind = _kind(block, block_where)
        if kind == "text":
            parts.append({"type": "text", "text": _string(block["text"], f"{block_where}.text")})
        elif kind == "guardContent":
            text = _guarded_text(block["guardContent"], f"{block_where}.guardContent")
            parts.append({"type": "text", "text": text})
        elif kind == "image":
            parts.append(_image_part(block["image"], f"{block_where}.image"))
        elif kind == "toolResult":
            tool_messages.append(_tool_message(block["toolResult"], f"{block_where}.toolResult", tool_uses))
        elif kind != "cachePoint":
            raise ConverseRequestError(f"The emulator does not translate {kind} blocks ({block_where}).")
    if not parts:
        return tool_messages or [{"role": "user", "content": ""}]
    if all(part["type"] == "text" for part in parts):
        content: str | list[dict[str, Any]] = "\n".join(part["text"] for part in parts)
    else:
        content = parts
    return [*tool_messages, {"role": "user", "content": content}]


def _tool_message(result: object, where: str, tool_uses: set[str]) -> dict[str, Any]:
    fields = _object(result, where)
    tool_use_id = _matching(fields.get("toolUseId"), "ToolUseId", f"{where}.toolUseId")
    if tool_use_id not in tool_uses:
        raise ConverseRequestError(
            f"{where} answers toolUseId {tool_use_id!r}, which no toolUse block of the assistant message "
            "just before it has."
        )
    texts = []
    for index, item in enumerate(_list(fields.get("content"), f"{where}.content")):
        item_where = f"{where}.content.{index}"
        kind = _kind(item, item_where)
        if kind == "text":
            texts.append(_string(item["text"], f"{item_where}.text"))
        elif kind == "json":
            texts.append(json.dumps(item["json"], ensure_ascii=False))
        else:
            raise ConverseRequestError(f"The emulator does not translate {kind} tool results ({item_where}).")
    return {"role": "tool", "tool_call_id": tool_use_id, "content": "\n".join(texts)}


def _image_part(image: object, where: str) -> dict[str, Any]:
    fields = _object(image, where)
    image_format = fields.get("format")
    mime = _IMAGE_TYPES.get(image_format) if isinstance(image_format, str) else None
    source = _object(fields.get("source"), f"{where}.source")
    if mime is None or not isinstance(source.get("bytes"), str):
        raise ConverseRequestError(
            f"{where} must be a png, jpeg, gif or webp image given as bytes (the emulator does not read S3)."
        )
    # botocore sends blobs base64-encoded in rest-json bodies: the data URL takes them as they are.
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{source['bytes']}"}}


def _guarded_text(guarded: object, where: str) -> str:
    text = _object(_object(guarded, where).get("text"), f"{where}.text")
    return _string(text.get("text"), f"{where}.text.text")


def _inference_config(config: object, body: dict[str, Any]) -> tuple[str, ...]:
    fields = _object(config, "inferenceConfig")
    if "maxTokens" in fields:
        max_tokens = fields["maxTokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ConverseRequestError(
                f"inferenceConfig.maxTokens must be an integer >= 1, got {max_tokens!r}."
            )
        body["max_tokens"] = max_tokens
    for name, key in (("temperature", "temperature"), ("topP", "top_p")):
        if name in fields:
            value = fields[name]
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ConverseRequestError(f"inferenceConfig.{name} must be within 0..1, got {value!r}.")
            body[key] = value
    stop = tuple(
        _string(item, f"inferenceConfig.stopSequences.{index}")
        for index, item in enumerate(_list(fields.get("stopSequences", []), "inferenceConfig.stopSequences"))
    )
    if stop:
        body["stop"] = list(stop)
    return stop


def _tool_config(config: object, body: dict[str, Any]) -> None:
    fields = _object(config, "toolConfig")
    tools = []
    for index, tool in enumerate(_list(fields.get("tools"), "toolConfig.tools")):
        where = f"toolConfig.tools.{index}"
        kind = _kind(tool, where)
        if kind == "cachePoint":
            continue
        if kind != "toolSpec":
            raise ConverseRequestError(f"The emulator does not translate {kind} tools ({where}).")
        spec = _object(tool["toolSpec"], f"{where}.toolSpec")
        schema = _object(spec.get("inputSchema"), f"{where}.toolSpec.inputSchema")
        function = {
            "name": _string(spec.get("name"), f"{where}.toolSpec.name"),
            "parameters": _object(schema.get("json"), f"{where}.toolSpec.inputSchema.json"),
        }
        if "description" in spec:
            function["description"] = _string(spec["description"], f"{where}.toolSpec.description")
        tools.append({"type": "function", "function": function})
    if not tools:
        raise ConverseRequestError("toolConfig.tools must hold at least one toolSpec.")
    body["tools"] = tools
    choice = _object(fields.get("toolChoice", {"auto": {}}), "toolConfig.toolChoice")
    kind = _kind(choice, "toolConfig.toolChoice")
    if kind == "auto":
        body["tool_choice"] = "auto"
    elif kind == "any":
        body["tool_choice"] = "required"
    elif kind == "tool":
        tool = _object(choice["tool"], "toolConfig.toolChoice.tool")
        name = _string(tool.get("name"), "toolConfig.toolChoice.tool.name")
        body["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise ConverseRequestError(f"toolConfig.toolChoice must be auto, any or tool, got {kind!r}.")


def _kind(block: object, where: str) -> str:
    """Return the member a union block sets (Bedrock's unions set exactly one)."""
    fields = _object(block, where)
    if len(fields) != 1:
        raise ConverseRequestError(f"{where} must set exactly one member, got {sorted(fields) or 'none'}.")
    return next(iter(fields))


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConverseRequestError(f"{where} must be a JSON object, got {type(value).__name__}.")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConverseRequestError(f"{where} must be a list, got {type(value).__name__}.")
    return value


@functools.cache
def _pattern(shape: str) -> re.Pattern[str]:
    """Return the pattern of a string shape of botocore's ``bedrock-runtime`` model."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return re.compile(model.shape_for(shape).metadata["pattern"])


def _matching(value: object, shape: str, where: str) -> str:
    """Return ``value`` if it is a string matching ``shape``'s pattern, else refuse it as Bedrock does."""
    text = _string(value, where)
    pattern = _pattern(shape).pattern
    if not _pattern(shape).fullmatch(text):
        # AWS names a list's element "<list>.<index>.member" in its validation messages.
        member = re.sub(r"\.(\d+)", r".\1.member", where)
        raise ConverseRequestError(
            f"1 validation error detected: Value '{text}' at '{member}' failed to satisfy constraint: Member "
            f"must satisfy regular expression pattern: {pattern}"
        )
    return text


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConverseRequestError(f"{where} must be a string, got {type(value).__name__}.")
    return value
