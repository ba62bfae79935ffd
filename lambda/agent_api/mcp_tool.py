"""An MCP server's tool as a Strands tool, and what its call results tell the model.

A result maps to Strands tool-result content: text as text, a text resource as text (its URI first), a
resource link as a line naming it, an image of a type the model takes (PNG, JPEG, GIF, WebP) as an image, and
the structured content as JSON (unless a text item already says it: the MCP specification asks servers to
send it as text too). Anything else (audio, a binary resource, another image type) cannot be given to the
model: the whole result is refused, as an error result that names what it held, never passed on with parts
missing.
The server's `isError` makes an error result the model can read.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final, Protocol

import mcp_types
from strands.types.media import ImageContent, ImageFormat
from strands.types.tools import AgentTool, ToolGenerator, ToolResult, ToolResultContent, ToolSpec, ToolUse

# What the model is given images as (the provider's image types, sagemaker_provider.messages).
IMAGE_FORMATS: Final[dict[str, ImageFormat]] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


class ToolCaller(Protocol):
    """Calls a server's tool by its own name and returns the Strands result (never raises for the call)."""

    async def call(self, tool: str, tool_use: ToolUse) -> ToolResult:
        """Call ``tool`` with the arguments of ``tool_use``; the result carries its id."""


class McpTool(AgentTool):
    """The tool ``tool`` of an MCP server, called through ``caller`` under the name ``name``."""

    def __init__(self, tool: mcp_types.Tool, name: str, source: str, caller: ToolCaller) -> None:
        super().__init__()
        self._tool = tool
        self._name = name
        self._source = source
        self._caller = caller

    @property
    def tool_name(self) -> str:
        """The name the model calls it by (the server's, with the source's prefix if it has one)."""
        return self._name

    @property
    def tool_spec(self) -> ToolSpec:
        """Its name, description and input schema as the server lists them."""
        return {
            "name": self._name,
            "description": self._tool.description
            or f"The tool {self._tool.name} of MCP server {self._source}.",
            "inputSchema": {"json": self._tool.input_schema},
        }

    @property
    def tool_type(self) -> str:
        """Its kind, for Strands: a tool of an MCP server."""
        return "mcp"

    async def stream(
        self, tool_use: ToolUse, invocation_state: dict[str, Any], **kwargs: Any
    ) -> ToolGenerator:
        """Call the server's tool; the one item yielded is the result (Strands takes the last item as it)."""
        yield await self._caller.call(self._tool.name, tool_use)


def error_result(tool_use_id: str, text: str) -> ToolResult:
    """Return an error result saying ``text`` to the model."""
    return {"toolUseId": tool_use_id, "status": "error", "content": [{"text": text}]}


def tool_result(
    tool_use_id: str, result: mcp_types.CallToolResult, described: str
) -> tuple[ToolResult, bool]:
    """Return what a call's result tells the model, and whether it was refused (content it cannot read).

    ``described`` names the tool and its server, for the refusal's message.
    """
    content: list[ToolResultContent] = []
    refused: list[str] = []
    for block in result.content:
        item = _content(block)
        if isinstance(item, str):
            refused.append(item)
        else:
            content.append(item)
    if refused:
        return (
            error_result(
                tool_use_id,
                f"{described} returned content the model cannot be given ({'; '.join(refused)}), so its "
                "whole result was refused.",
            ),
            True,
        )
    structured = result.structured_content
    if structured is not None and not any(_says(item.get("text"), structured) for item in content):
        content.append({"json": structured})
    if result.is_error:
        return {"toolUseId": tool_use_id, "status": "error", "content": content}, False
    return {"toolUseId": tool_use_id, "status": "success", "content": content}, False


def _content(block: mcp_types.ContentBlock) -> ToolResultContent | str:
    """Return a content block for the model, or a description of what it is if the model cannot take it."""
    if isinstance(block, mcp_types.TextContent):
        return {"text": block.text}
    if isinstance(block, mcp_types.ImageContent):
        image_format = IMAGE_FORMATS.get(block.mime_type.lower())
        if image_format is None:
            return f"an image of type {block.mime_type}"
        try:
            data = base64.b64decode(block.data, validate=True)
        except (binascii.Error, ValueError):
            return "an image whose data is not base64"
        image: ImageContent = {"format": image_format, "source": {"bytes": data}}
        return {"image": image}
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return {"text": f"Resource {resource.uri}:\n{resource.text}"}
        return f"a binary resource {resource.uri} ({resource.mime_type or 'no type'})"
    if isinstance(block, mcp_types.ResourceLink):
        details = ", ".join(part for part in (block.mime_type, block.description) if part)
        return {"text": f"Resource link: {block.name} <{block.uri}>" + (f" ({details})" if details else "")}
    return f"audio ({block.mime_type})"


def _says(text: Any, value: Any) -> bool:
    """Whether ``text`` already says structured content ``value``.

    It does when it is the value's JSON text, or, for the SDKs' `{"result": value}` wrapping of a tool's plain
    return value, that value (the MCP specification asks a server to send its structured content as text too).
    """
    if not isinstance(text, str):
        return False
    if text == value:
        return True
    try:
        if json.loads(text) == value:
            return True
    except ValueError:
        pass
    return isinstance(value, dict) and value.keys() == {"result"} and _says(text, value["result"])
