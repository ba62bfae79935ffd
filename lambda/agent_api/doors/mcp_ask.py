"""The MCP server's one tool, `ask`: its schemas, its progress notifications, and its result.

`ask` takes `{"prompt", "session_id"?}` (the `/chat` rules) and returns the answer as text, with structured
content: the `done` event's fields (`stop_reason`, `usage`, `session_id`, and any added later), the answer,
and the tools the agent called. While the turn runs, each of its events that says something to a person is
a progress notification (`progressToken` of the call's `_meta`): the model waking, a piece of the answer, a
tool called and its outcome, a warning. A failed turn is a tool error (`isError`) whose text is `code:
message`, the error codes of `/chat`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from agent_api import contract
from agent_api.errors import ErrorReply
from agent_api.fallback import FALLBACK_STATE
from agent_api.pipeline import WholeEncoder
from agent_api.settings import Settings
from agent_api.turn_events import DONE, REASONING, STATUS, TEXT, TOOL_RESULT, TOOL_USE, TurnEvent
from agent_api.warming import ModelState

ASK: Final = "ask"
ASK_FIELDS: Final = ("prompt", "session_id")
DESCRIPTION: Final = (
    "Ask the agent. It answers with its own model, system prompt and tools, which it runs itself; the "
    "answer is text, with the tools it called listed in the structured result."
)
SESSION_DESCRIPTION: Final = (
    "Continue a conversation: calls with the same session_id (yours only) share it, across calls and "
    "clients. Leave it out for a question on its own."
)
OUTPUT_SCHEMA: Final = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "the whole answer"},
        "session_id": {"type": ["string", "null"]},
        "stop_reason": {"type": "string", "description": "end_turn, or max_tokens when cut by the limit"},
        "usage": {
            "type": "object",
            "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
            "required": ["input_tokens", "output_tokens"],
        },
        "tool_calls": {
            "type": "array",
            "description": "the tools the agent called, in order, with their outcome",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "input": {"type": "object"},
                    "status": {"type": ["string", "null"], "description": "success or error"},
                    "content": {"type": ["string", "null"], "description": "the result, summarized"},
                },
                "required": ["id", "name", "input", "status", "content"],
            },
        },
        "agent_events": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["answer", "session_id", "stop_reason", "usage", "tool_calls", "agent_events"],
}


def input_schema(settings: Settings) -> dict[str, Any]:
    """Return `ask`'s input schema: the prompt's limit, and a session id where sessions are on."""
    properties: dict[str, Any] = {
        "prompt": {
            "type": "string",
            "description": "the question or instruction",
            "minLength": 1,
            "maxLength": settings.max_prompt_chars,
        }
    }
    if settings.sessions_enabled:
        properties["session_id"] = {
            "type": "string",
            "description": SESSION_DESCRIPTION,
            "pattern": f"^{contract.SESSION_ID_PATTERN.pattern}$",
        }
    return {"type": "object", "properties": properties, "required": ["prompt"], "additionalProperties": False}


def progress_message(event: TurnEvent) -> str | None:
    """Return what a progress notification says of an event.

    None for one that says nothing to a person: the model's reasoning, the end.
    """
    if event.name == TEXT:
        return str(event.data["delta"])
    if _warming(event):
        return f"the model is starting (waited {event.data['elapsed_s']} s)"
    if event.name == STATUS and event.data.get("state") == FALLBACK_STATE:
        return f"the fallback model {event.data['model']} answers while the model starts"
    if event.name == TOOL_USE:
        return f"calling {event.data['name']}"
    if event.name == TOOL_RESULT:
        return f"{event.data['name']}: {event.data['status']}"
    if event.name in (REASONING, DONE):
        return None
    message = event.data.get("message")
    return f"{event.name}: {message}" if isinstance(message, str) else event.name


def _warming(event: TurnEvent) -> bool:
    return event.name == STATUS and event.data.get("state") == ModelState.WARMING.value


def error_text(error: ErrorReply) -> str:
    """Return a failed call's text: `code: message`."""
    return f"{error.code}: {error.message}"


class AskResult(WholeEncoder):
    """The structured content of a complete `ask` call."""

    def answer(self, events: Sequence[TurnEvent]) -> dict[str, Any]:
        """Return the structured result of every event of a turn, `done` last."""
        *answer, done = events
        calls: dict[str, dict[str, Any]] = {}
        others = []
        for event in answer:
            if event.name == TOOL_USE:
                calls[event.data["id"]] = {**event.data, "status": None, "content": None}
            elif event.name == TOOL_RESULT and event.data["id"] in calls:
                calls[event.data["id"]].update(status=event.data["status"], content=event.data["content"])
            elif event.name not in (TEXT, REASONING) and not _warming(event):
                others.append(event.tagged())
        return {
            **done.data,
            "answer": "".join(event.data["delta"] for event in answer if event.name == TEXT),
            "tool_calls": list(calls.values()),
            "agent_events": others,
        }
