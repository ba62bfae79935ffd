"""A stored conversation, whichever model wrote it, as an Amazon Bedrock model can read it.

A session holds the same Strands messages whichever model wrote them: the endpoint's own model through this
project's provider, or a Bedrock fallback (agent_api.fallback_model). The provider reads anything a Bedrock
model writes (it sends tool calls and results as OpenAI's, and leaves reasoning out). Bedrock refuses some of
what another model wrote, so before a Bedrock model is called its copy of the conversation is converted, the
stored one left as it is:

- reasoning of earlier turns is dropped. A `reasoningContent` block carries a signature bound to the model
  that wrote it, or none (the own model's): Anthropic models refuse reasoning without one, other models any
  with one, and only the model that wrote a signature can check it. Earlier turns' reasoning is not needed:
  Anthropic's API strips the thinking blocks of earlier turns, which are "not part of the conversation
  history that the model sees", and the one case where they must be sent back is a tool call's thinking with
  its result (Anthropic docs, "Context windows", extended thinking); the provider never sends any back
  either. So the turn being answered keeps its own reasoning: only the model answering it wrote that;
- a tool call's id that is not one Bedrock takes (`ToolUseId`: 1-64 of `[a-zA-Z0-9_.:-]`, botocore's
  bedrock-runtime model) is replaced by one derived from it, the same in its call and in its result; a tool
  name Bedrock does not take (`ToolName`: 1-64 of `[a-zA-Z0-9_-]`), which only a call of a tool that does
  not exist can have, is replaced by one that does; tool input that is not a JSON object (a model may send
  a list or a number) is wrapped as `{"input": ...}`;
- blank text blocks are dropped (Bedrock refuses a blank `text`), and a message left with nothing is dropped
  with it; the messages around it, then of the same role, become one, since Bedrock wants the roles to
  alternate.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final, cast

if TYPE_CHECKING:
    from strands.types.content import ContentBlock, Message, Messages

TOOL_USE_ID_PATTERN: Final = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
TOOL_NAME_PATTERN: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NOT_IN_TOOL_NAME: Final = re.compile(r"[^a-zA-Z0-9_-]")
# Blocks that open a turn: a user message with one of them is a prompt (a user message holding only tool
# results continues the turn).
_PROMPT_BLOCKS: Final = ("text", "image", "document", "video", "guardContent")


def for_bedrock(messages: Messages) -> Messages:
    """Return a copy of `messages` a Bedrock model accepts, whichever model wrote them (module docstring)."""
    turn_start = _turn_start(messages)
    readable: list[Message] = []
    for index, message in enumerate(messages):
        blocks = [
            converted
            for block in message["content"]
            if (converted := _readable_block(block, earlier=index < turn_start)) is not None
        ]
        if not blocks:
            continue
        if readable and readable[-1]["role"] == message["role"]:
            readable[-1] = cast(
                "Message", {"role": message["role"], "content": [*readable[-1]["content"], *blocks]}
            )
        else:
            readable.append(cast("Message", {"role": message["role"], "content": blocks}))
    return readable


def bedrock_tool_use_id(tool_use_id: str) -> str:
    """Return `tool_use_id` if Bedrock takes it, else an id it takes derived from it (always the same one)."""
    if TOOL_USE_ID_PATTERN.fullmatch(tool_use_id):
        return tool_use_id
    return "tooluse_" + hashlib.sha256(tool_use_id.encode("utf-8")).hexdigest()[:32]


def _turn_start(messages: Messages) -> int:
    """Return the index of the prompt of the turn being answered (the last user message that opens a turn)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message["role"] == "user" and any(
            kind in block for block in message["content"] for kind in _PROMPT_BLOCKS
        ):
            return index
    return 0


def _readable_block(block: ContentBlock, *, earlier: bool) -> ContentBlock | None:
    if "reasoningContent" in block:
        return None if earlier else block
    if "text" in block:
        return block if block["text"].strip() else None
    if "toolUse" in block:
        tool_use: dict[str, Any] = dict(block["toolUse"])
        tool_use["toolUseId"] = bedrock_tool_use_id(tool_use["toolUseId"])
        if not TOOL_NAME_PATTERN.fullmatch(tool_use["name"]):
            tool_use["name"] = _NOT_IN_TOOL_NAME.sub("_", tool_use["name"])[:64] or "tool"
        if not isinstance(tool_use.get("input"), dict):
            tool_use["input"] = {"input": tool_use.get("input")}
        return cast("ContentBlock", {"toolUse": tool_use})
    if "toolResult" in block:
        result = {**block["toolResult"], "toolUseId": bedrock_tool_use_id(block["toolResult"]["toolUseId"])}
        return cast("ContentBlock", {"toolResult": result})
    return block
