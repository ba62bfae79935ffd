"""Strands messages, tool specs and tool choice → OpenAI chat completions request fields.

Faithful: every text block is kept (blocks of one message joined by a newline, which is how the servers'
chat templates join text parts), images become ``image_url`` data URLs, the assistant's earlier turns are
sent as assistant messages, ``toolUse`` becomes the assistant's ``tool_calls`` and ``toolResult`` a ``tool``
message placed right after them (or user text, for servers without a ``tool`` role); text documents, in a
message or a tool result, are sent as their text. Content a chat completions server cannot take (audio,
video, binary documents), wherever it is, is rejected with a ``ValueError`` naming it.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strands.types.content import ContentBlock, Messages
    from strands.types.tools import ToolChoice, ToolResult, ToolSpec

_IMAGE_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
_TEXT_DOCUMENTS = {"txt", "md", "csv", "html"}
# Blocks that carry nothing for the model: prompt-cache markers and the model's own earlier reasoning.
_SKIPPED = {"cachePoint", "reasoningContent"}


def to_openai_messages(
    messages: Messages, system_prompt: str | None = None, *, tool_results_as_user_text: bool = False
) -> list[dict[str, Any]]:
    """Convert a Strands conversation (and system prompt) to OpenAI chat messages.

    Raises:
        ValueError: A content block cannot be sent to a chat completions server.

    """
    out: list[dict[str, Any]] = []
    if system_prompt:
        out.append({"role": "system", "content": system_prompt})
    tool_names: dict[str, str] = {}
    for message in messages:
        role = message["role"]
        if role == "assistant":
            out.append(_assistant_message(message["content"], tool_names))
        elif role == "user":
            out.extend(_user_messages(message["content"], tool_names, tool_results_as_user_text))
        else:
            raise ValueError(f"unsupported message role {role!r}: expected 'user' or 'assistant'")
    return out


def to_openai_tools(tool_specs: list[ToolSpec]) -> list[dict[str, Any]]:
    """Convert Strands tool specs to OpenAI ``tools``."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec["name"],
                "description": spec["description"],
                "parameters": spec["inputSchema"]["json"],
            },
        }
        for spec in tool_specs
    ]


def to_openai_tool_choice(tool_choice: ToolChoice) -> str | dict[str, Any]:
    """Convert Strands' tool choice (``{"auto": {}}``, ``{"any": {}}``, ``{"tool": {"name": ...}}``)."""
    if "any" in tool_choice:
        return "required"
    if "tool" in tool_choice:
        forced: Any = tool_choice["tool"]  # type: ignore[index]
        return {"type": "function", "function": {"name": forced["name"]}}
    if "auto" in tool_choice:
        return "auto"
    raise ValueError(f"unsupported tool_choice {tool_choice!r}: expected 'auto', 'any' or 'tool'")


def tool_result_text(result: ToolResult, *, name_other_items: bool = False) -> str:
    """Return a tool result's text and JSON items as one string, one item per line.

    Other items (images, documents) are not text: they are left out, or with ``name_other_items`` shown by
    their kind (``[image]``), for a reader who should know they were there.
    """
    parts: list[str] = []
    for item in result["content"]:
        text = _item_text(item)
        if text is not None:
            parts.append(text)
        elif name_other_items:
            parts.append(f"[{next(iter(item), 'content')}]")
    return "\n".join(parts)


def _item_text(item: Any) -> str | None:
    """Return the text of a tool result's text or JSON item, ``None`` for other items."""
    if "text" in item:
        return str(item["text"])
    if "json" in item:
        return json.dumps(item["json"], ensure_ascii=False)
    return None


def tool_result_for_model(result: ToolResult, *, images_allowed: bool = True) -> str:
    """Return what a tool result tells the model as text: its text, JSON and text documents, one per line.

    Images are not text: the caller sends them otherwise (``images_allowed``) or they are rejected.

    Raises:
        ValueError: An item that cannot be sent as text (video, a binary document, an image when not
            ``images_allowed``), named, rather than dropped silently.

    """
    parts: list[str] = []
    for item in result["content"]:
        text = _item_text(item)
        if text is not None:
            parts.append(text)
        elif "document" in item:
            parts.append(_document_part(item["document"])["text"])
        elif not ("image" in item and images_allowed):
            raise ValueError(
                f"unsupported content in the result of tool call {result['toolUseId']!r}: {_kind(item)}"
            )
    return "\n".join(parts)


def block_text(block: ContentBlock) -> str | None:
    """Return the text a block gives the model, ``None`` for a block that is not text.

    Text, cited text (``citationsContent``: an answer with document citations, carried into another
    conversation or turn) and guarded text (``guardContent``) are all text to the model.
    """
    if "text" in block:
        return block["text"]
    if "citationsContent" in block:
        content = block["citationsContent"].get("content", [])
        return "\n".join(item["text"] for item in content if "text" in item)
    if "guardContent" in block:
        return block["guardContent"]["text"]["text"]
    return None


def _assistant_message(blocks: list[ContentBlock], tool_names: dict[str, str]) -> dict[str, Any]:
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in blocks:
        if "toolUse" in block:
            tool_use = block["toolUse"]
            tool_names[tool_use["toolUseId"]] = tool_use["name"]
            tool_calls.append(
                {
                    "id": tool_use["toolUseId"],
                    "type": "function",
                    "function": {
                        "name": tool_use["name"],
                        "arguments": json.dumps(tool_use["input"], ensure_ascii=False),
                    },
                }
            )
        elif (text := block_text(block)) is not None:
            texts.append(text)
        elif not _SKIPPED.intersection(block):
            raise ValueError(f"unsupported content block in an assistant message: {_kind(block)}")
    message: dict[str, Any] = {"role": "assistant"}
    if texts:
        message["content"] = "\n".join(texts)
    if tool_calls:
        message["tool_calls"] = tool_calls
    elif not texts:
        message["content"] = ""
    return message


def _user_messages(
    blocks: list[ContentBlock], tool_names: dict[str, str], results_as_text: bool
) -> list[dict[str, Any]]:
    # Tool results must directly follow the assistant's tool calls, so they come before the user's content.
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if "toolResult" in block:
            result = block["toolResult"]
            result_text = tool_result_for_model(result)
            images = [_image_part(item["image"]) for item in result["content"] if "image" in item]
            if results_as_text:
                name = tool_names.get(result["toolUseId"], "tool")
                parts.append(_text_part(f"Tool {name} (call {result['toolUseId']}) returned: {result_text}"))
            else:
                tool_messages.append(
                    {"role": "tool", "tool_call_id": result["toolUseId"], "content": result_text}
                )
            # The tool role takes text only; images a tool returned go to the model as user content.
            parts.extend(images)
        elif (text := block_text(block)) is not None:
            parts.append(_text_part(text))
        elif "image" in block:
            parts.append(_image_part(block["image"]))
        elif "document" in block:
            parts.append(_document_part(block["document"]))
        elif not _SKIPPED.intersection(block):
            raise ValueError(f"unsupported content block in a user message: {_kind(block)}")
    if not parts:
        if not tool_messages:
            # A turn of only cache points or reasoning still is the user's turn: dropping it would leave two
            # assistant messages in a row, which chat templates that alternate roles reject.
            return [{"role": "user", "content": ""}]
        return tool_messages
    if all(part["type"] == "text" for part in parts):
        content: str | list[dict[str, Any]] = "\n".join(part["text"] for part in parts)
    else:
        content = parts
    return [*tool_messages, {"role": "user", "content": content}]


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image_part(image: Any) -> dict[str, Any]:
    image_format = image.get("format", "")
    mime = _IMAGE_TYPES.get(image_format)
    source = image.get("source", {})
    if mime is None or "bytes" not in source:
        raise ValueError(
            f"unsupported image: format {image_format!r}, source {sorted(source)}; expected bytes"
        )
    data = base64.b64encode(source["bytes"]).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


def _document_part(document: Any) -> dict[str, Any]:
    doc_format = document.get("format", "")
    source = document.get("source", {})
    if doc_format not in _TEXT_DOCUMENTS or "bytes" not in source:
        raise ValueError(
            f"unsupported document {document.get('name', '')!r} (format {doc_format!r}): only text documents "
            f"({', '.join(sorted(_TEXT_DOCUMENTS))}) given as bytes can be sent as text"
        )
    text = source["bytes"].decode("utf-8", "replace")
    return _text_part(f"Document {document.get('name', '')}:\n{text}")


def _kind(block: Any) -> str:
    return ", ".join(sorted(block)) or "empty block"
