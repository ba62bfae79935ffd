"""What a turn produces and what it holds, shared by the turn (`agent_api.turn`), the doors and the stores.

The events a turn yields (their names, `TurnEvent`, and `TurnItem`: an event or the `ErrorReply` ending it),
the complete answer a stored conversation is saved with (`FinishedTurn`), and what such a conversation
offers the turn (`HeldConversation`). Nothing here runs a turn, so a door's encoder or a store imports
these without the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from agent_api.errors import ErrorReply

if TYPE_CHECKING:
    from strands.session.session_manager import SessionManager

# The events of a turn (docs/agent-api.md, "Response: the event stream"), which each door encodes its way.
TEXT: Final = "text"
REASONING: Final = "reasoning"
TOOL_USE: Final = "tool_use"
TOOL_RESULT: Final = "tool_result"
STATUS: Final = "status"
DONE: Final = "done"
# Something the answer goes without, such as a tool source: `{"code", "message"}`, ahead of the first event.
WARNING: Final = "warning"


@dataclass(frozen=True)
class TurnEvent:
    """One thing a turn produced, before any door encodes it: its name and JSON payload."""

    name: str
    data: dict[str, Any]

    def tagged(self) -> dict[str, Any]:
        """Return the event as one object, its name as `type`: how a door with no field for it carries it."""
        return {"type": self.name, **self.data}


TurnItem = TurnEvent | ErrorReply
"""What a turn yields: events, then a `done` event or an `ErrorReply` (unless it was cancelled)."""


@dataclass(frozen=True)
class FinishedTurn:
    """A complete answer, as its stored conversation is saved with it: every event, `done` last."""

    events: tuple[TurnEvent, ...]


class HeldConversation(Protocol):
    """The stored conversation a turn starts from and saves to.

    A session under its lock (`agent_api.sessions.SessionLease`), or a stored response
    (`agent_api.doors.openai.responses_store`).

    Every method does blocking I/O (or may): the turn calls them in a worker thread.
    """

    def session_manager(self) -> SessionManager:
        """Return the Strands session manager the turn's agent starts from (no I/O)."""

    def reload(self) -> None:
        """Read the conversation again as it was before the turn (a refused attempt changed it)."""

    def save(self, finished: FinishedTurn) -> None:
        """Keep the conversation after a complete answer (`finished`); raising fails the turn instead."""

    def release(self) -> None:
        """Let the conversation go, however the turn ended."""
