"""Chat templates: render a conversation to the prompt text that native ``tgi``/``lmi`` requests send.

A template is any object with a ``render(messages, system_prompt) -> str`` method (the :class:`ChatTemplate`
protocol), so a user can supply one for their model. :class:`Llama31ChatTemplate` ships Llama 3.1's format.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .messages import tool_result_text

if TYPE_CHECKING:
    from strands.types.content import Messages


@runtime_checkable
class ChatTemplate(Protocol):
    """Renders a Strands conversation to a prompt ending where the assistant's answer starts."""

    def render(self, messages: Messages, system_prompt: str | None) -> str:
        """Return the prompt for ``messages`` and ``system_prompt``."""
        ...


class Llama31ChatTemplate:
    """Meta Llama 3.1 / 3.2 / 3.3 instruct prompt format (text, earlier tool calls and tool results)."""

    def render(self, messages: Messages, system_prompt: str | None) -> str:
        """Render the conversation with Llama 3.1's header and end-of-turn tokens.

        Raises:
            ValueError: A message holds content the text prompt cannot carry (images, documents, ...).

        """
        parts = ["<|begin_of_text|>"]
        if system_prompt:
            parts.append(_turn("system", system_prompt))
        for message in messages:
            texts: list[str] = []
            for block in message["content"]:
                if "text" in block:
                    texts.append(block["text"])
                elif "toolUse" in block:
                    call = {"name": block["toolUse"]["name"], "parameters": block["toolUse"]["input"]}
                    texts.append(json.dumps(call, ensure_ascii=False))
                elif "toolResult" in block:
                    # Llama 3.1 reads tool output from the "ipython" role.
                    parts.append(_turn("ipython", tool_result_text(block["toolResult"])))
                elif "cachePoint" not in block and "reasoningContent" not in block:
                    raise ValueError(
                        f"the Llama 3.1 text prompt cannot carry a {', '.join(sorted(block))} block"
                    )
            if texts:
                parts.append(_turn(message["role"], "\n".join(texts)))
        parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
        return "".join(parts)


def _turn(role: str, text: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
