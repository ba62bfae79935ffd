"""What a chat completions request and a Responses API request share.

The model, the accepted fields, flags, and messages read as the caller's instructions, the conversation and
the prompt. Every error names its parameter (OpenAI's `param`), as the SDKs show it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

from strands.types.content import Message, Messages

from agent_api import contract
from agent_api.validation import RequestError

# System and developer messages are the caller's instructions; user and assistant ones the conversation.
INSTRUCTION_ROLES: Final = ("system", "developer")
CONVERSATION_ROLES: Final = ("user", "assistant")
_T = TypeVar("_T")


def about(param: str, parse: Callable[..., _T], *args: Any) -> _T:
    """Run a `/chat` field parser, naming `param` in the error it raises."""
    try:
        return parse(*args)
    except RequestError as exc:
        raise RequestError(exc.status, exc.code, exc.message, param) from exc


def check_fields(data: dict[str, Any], accepted: Collection[str]) -> None:
    """Refuse any field `accepted` does not name: never silently dropped."""
    unknown = sorted(set(data) - set(accepted))
    if unknown:
        raise RequestError(
            400,
            "unsupported_parameter",
            f"unsupported parameter(s): {', '.join(unknown)} (accepted: {', '.join(accepted)})",
            unknown[0],
        )


def check_model(data: dict[str, Any]) -> None:
    """Require the one model the API serves."""
    if "model" not in data:
        raise RequestError(400, "missing_field", "field 'model' is required", "model")
    if data["model"] != contract.OPENAI_MODEL_ID:
        raise RequestError(
            404,
            "model_not_found",
            f"model {data['model']!r} does not exist; this API serves {contract.OPENAI_MODEL_ID!r}",
            "model",
        )


def flag(data: dict[str, Any], name: str) -> bool | None:
    """Return a boolean field, None when it is absent or null."""
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise RequestError(400, "invalid_field", f"field '{name}' must be a boolean", name)
    return value


def message_text(
    message: dict[str, Any], param: str, fields: Collection[str], text_parts: Collection[str]
) -> tuple[str, str]:
    """Return a message's role and text: a known role, only `fields`, and text that is not blank."""
    role = message.get("role")
    if role not in INSTRUCTION_ROLES + CONVERSATION_ROLES:
        allowed = ", ".join(INSTRUCTION_ROLES + CONVERSATION_ROLES)
        raise RequestError(400, "invalid_field", f"{param}.role must be one of {allowed}", f"{param}.role")
    unknown = sorted(set(message) - set(fields))
    if unknown:
        raise RequestError(
            400, "invalid_field", f"{param} has unsupported field(s): {', '.join(unknown)}", param
        )
    text = content_text(message.get("content"), f"{param}.content", text_parts)
    if not text.strip():
        raise RequestError(400, "invalid_field", f"{param}.content must not be empty", f"{param}.content")
    return str(role), text


def content_text(content: object, param: str, text_parts: Collection[str]) -> str:
    """Return a message's content as text: a string, or an array of text parts of `text_parts` (joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in text_parts and isinstance(part.get("text"), str)
        ]
        if len(texts) == len(content):
            return "".join(texts)
        raise RequestError(
            400, "unsupported_content", f"{param}: only text content parts are supported", param
        )
    raise RequestError(
        400, "invalid_field", f"{param} must be a string or a non-empty array of text parts", param
    )


@dataclass
class Conversation:
    """Messages read in order: the instructions, the turns (the prompt last, once checked) and their size."""

    instructions: list[str] = field(default_factory=list)
    turns: Messages = field(default_factory=list)
    chars: int = 0

    @classmethod
    def of(cls, messages: Iterable[tuple[str, str]], chars: int = 0) -> Conversation:
        """Gather (role, text) pairs; `chars` of the request outside them count toward its size."""
        conversation = cls(chars=chars)
        for role, text in messages:
            conversation.chars += len(text)
            if role in INSTRUCTION_ROLES:
                conversation.instructions.append(text)
            else:
                conversation.turns.append(cast(Message, {"role": role, "content": [{"text": text}]}))
        return conversation

    def ends_with_user(self) -> bool:
        """Whether the last turn is a user message (the prompt)."""
        return bool(self.turns) and self.turns[-1]["role"] == "user"

    def split(self) -> tuple[str, Messages, str]:
        """Return the instructions joined, the earlier turns and the prompt (the last turn's text)."""
        turns = list(self.turns)
        prompt = turns.pop()["content"][0]["text"]
        return "\n\n".join(self.instructions), turns, prompt
