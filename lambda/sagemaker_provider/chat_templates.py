"""Chat templates: render a conversation to the prompt text that native ``tgi``/``lmi`` requests send.

A template is any object with a ``render(messages, system_prompt, tool_specs)`` method (the
:class:`ChatTemplate` protocol), so a user can supply one for their model. To offer tools through a native
format, a template also reads the model's tool calls back from its text (:class:`ToolCallingChatTemplate`).
:class:`Llama31ChatTemplate` ships Llama 3.1's format, JSON tool calling included.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .messages import block_text, to_openai_tools, tool_result_for_model
from .text_tool_calls import Llama3Json

if TYPE_CHECKING:
    from strands.types.content import Messages
    from strands.types.tools import ToolSpec

_LLAMA_TOOL_INSTRUCTIONS = (
    "Given the following functions, please respond with a JSON for a function call with its proper arguments "
    "that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
    "Do not use variables.\n\n"
)


@runtime_checkable
class ChatTemplate(Protocol):
    """Renders a Strands conversation to a prompt ending where the assistant's answer starts."""

    def render(self, messages: Messages, system_prompt: str | None, tool_specs: list[ToolSpec] | None) -> str:
        """Return the prompt for ``messages``, ``system_prompt`` and the tools offered (if any)."""
        ...


@runtime_checkable
class ToolCallingChatTemplate(ChatTemplate, Protocol):
    """A template whose model can call tools: it also reads tool calls back from the generated text."""

    def tool_call_prefixes(self) -> tuple[str, ...]:
        """Return how a tool-call answer starts (after leading whitespace), e.g. ``("{",)``."""
        ...

    def parse_tool_calls(self, text: str) -> list[tuple[str, Any]] | None:
        """Return ``[(name, arguments), ...]`` when ``text`` is a tool-call answer, else ``None``."""
        ...


class Llama31ChatTemplate:
    """Meta Llama 3.1 / 3.2 / 3.3 instruct prompt format, with its JSON tool calling.

    Tools are described in the first user message and a call comes back as
    ``{"name": ..., "parameters": {...}}`` (several separated by ``;``), as in the Llama 3.1 model card and
    vLLM's ``llama3_json`` parser; tool results go in ``ipython`` turns.
    """

    def render(
        self, messages: Messages, system_prompt: str | None, tool_specs: list[ToolSpec] | None = None
    ) -> str:
        """Render the conversation with Llama 3.1's header and end-of-turn tokens.

        Raises:
            ValueError: A message holds content the text prompt cannot carry (images, documents, ...).

        """
        parts = ["<|begin_of_text|>"]
        if system_prompt or tool_specs:
            environment = "Environment: ipython\n\n" if tool_specs else ""
            parts.append(_turn("system", environment + (system_prompt or "")))
        tools_pending = bool(tool_specs)
        for message in messages:
            texts: list[str] = []
            for block in message["content"]:
                block_string = block_text(block)
                if block_string is not None:
                    texts.append(block_string)
                elif "toolUse" in block:
                    call = {"name": block["toolUse"]["name"], "parameters": block["toolUse"]["input"]}
                    texts.append(json.dumps(call, ensure_ascii=False))
                elif "toolResult" in block:
                    # Llama 3.1 reads tool output from the "ipython" role.
                    result = tool_result_for_model(block["toolResult"], images_allowed=False)
                    parts.append(_turn("ipython", result))
                elif "cachePoint" not in block and "reasoningContent" not in block:
                    raise ValueError(
                        f"the Llama 3.1 text prompt cannot carry a {', '.join(sorted(block))} block"
                    )
            if not texts:
                continue
            text = "\n".join(texts)
            if tools_pending and message["role"] == "user" and tool_specs:
                described = "".join(
                    json.dumps(tool, indent=4) + "\n\n" for tool in to_openai_tools(tool_specs)
                )
                text = _LLAMA_TOOL_INSTRUCTIONS + described + text
                tools_pending = False
            parts.append(_turn(message["role"], text))
        parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
        return "".join(parts)

    def tool_call_prefixes(self) -> tuple[str, ...]:
        """Return the start of a Llama 3.1 JSON tool call."""
        return ("{", "<|python_tag|>")

    def parse_tool_calls(self, text: str) -> list[tuple[str, Any]] | None:
        """Read ``{"name": ..., "parameters": ...}`` calls (``;``-separated); ``None`` for other text."""
        parsed = Llama3Json().parse(text)
        if parsed is None or not parsed[1] or any(not isinstance(name, str) for name, _ in parsed[1]):
            return None
        return parsed[1]


def _turn(role: str, text: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
