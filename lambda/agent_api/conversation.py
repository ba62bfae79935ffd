"""A whole session as one JSON document: a Strands `SessionRepository` held in memory.

Strands' `RepositorySessionManager` drives it exactly as it drives `S3SessionManager` (the agent, its
conversation manager and hooks see no difference), but every create/update lands in this document, which
`agent_api.sessions` reads from S3 once before the turn and writes back once after a successful turn. A turn
that fails or is cancelled is simply never written, so the stored session stays as it was.

Messages the conversation manager has dropped for good (its `removed_message_count`: Strands never reads
them again) are left out of the saved document, so the document is bounded by the conversation window.
"""

from __future__ import annotations

import json
from typing import Any

from strands.session.session_repository import SessionRepository
from strands.types.exceptions import SessionException
from strands.types.session import Session, SessionAgent, SessionMessage

# The document's own format tag: a document without it (or with another) is refused, never guessed at.
LAYOUT = "agent-api-session/1"


class ConversationDocument(SessionRepository):
    """One session's Strands records, loaded from and serialized to a single JSON document."""

    def __init__(self, session_id: str, document: dict[str, Any] | None = None) -> None:
        self.session_id = session_id
        self._session: dict[str, Any] | None = None
        self._agents: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[int, dict[str, Any]]] = {}
        if document is not None:
            self._load(document)

    @classmethod
    def from_json(cls, session_id: str, body: bytes) -> ConversationDocument:
        """Parse a stored document.

        Raises:
            SessionException: it is not a document of this layout.

        """
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise SessionException(f"session {session_id} is not valid JSON") from exc
        if not isinstance(document, dict) or document.get("layout") != LAYOUT:
            raise SessionException(f"session {session_id} is not a {LAYOUT} document")
        return cls(session_id, document)

    def to_json(self) -> bytes:
        """Serialize the session, without the messages the conversation manager will never load again."""
        agents = {
            agent_id: {
                "agent": agent,
                "messages": [
                    message
                    for message_id, message in sorted(self._messages.get(agent_id, {}).items())
                    if message_id >= _removed_message_count(agent)
                ],
            }
            for agent_id, agent in self._agents.items()
        }
        document = {"layout": LAYOUT, "session": self._session, "agents": agents}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def _load(self, document: dict[str, Any]) -> None:
        try:
            self._session = dict(document["session"])
            for agent_id, entry in dict(document["agents"]).items():
                self._agents[agent_id] = dict(entry["agent"])
                self._messages[agent_id] = {int(m["message_id"]): dict(m) for m in entry["messages"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionException(f"session {self.session_id} is not a valid {LAYOUT} document") from exc

    # --- SessionRepository -------------------------------------------------------------------------------
    def create_session(self, session: Session, **kwargs: Any) -> Session:
        """Record the session (Strands calls it once, for a session that does not exist yet)."""
        self._check(session.session_id)
        if self._session is not None:
            raise SessionException(f"session {session.session_id} already exists")
        self._session = session.to_dict()
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        """Return the session, or None for a new one."""
        self._check(session_id)
        return None if self._session is None else Session.from_dict(self._session)

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Record a new agent of the session."""
        self._check(session_id)
        self._agents[session_agent.agent_id] = session_agent.to_dict()
        self._messages.setdefault(session_agent.agent_id, {})

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """Return an agent's state, or None if the session has no such agent."""
        self._check(session_id)
        agent = self._agents.get(agent_id)
        return None if agent is None else SessionAgent.from_dict(agent)

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Replace an agent's state, keeping its creation time (as `S3SessionManager` does)."""
        self._check(session_id)
        previous = self._agents.get(session_agent.agent_id)
        if previous is None:
            raise SessionException(f"agent {session_agent.agent_id} in session {session_id} does not exist")
        session_agent.created_at = previous["created_at"]
        self._agents[session_agent.agent_id] = session_agent.to_dict()

    def create_message(
        self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any
    ) -> None:
        """Record a message of an agent."""
        self._check(session_id)
        self._messages.setdefault(agent_id, {})[session_message.message_id] = session_message.to_dict()

    def read_message(
        self, session_id: str, agent_id: str, message_id: int, **kwargs: Any
    ) -> SessionMessage | None:
        """Return one message, or None."""
        self._check(session_id)
        message = self._messages.get(agent_id, {}).get(message_id)
        return None if message is None else SessionMessage.from_dict(message)

    def update_message(
        self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any
    ) -> None:
        """Replace a message (a redaction), keeping its creation time."""
        self._check(session_id)
        messages = self._messages.get(agent_id, {})
        previous = messages.get(session_message.message_id)
        if previous is None:
            raise SessionException(f"message {session_message.message_id} does not exist")
        session_message.created_at = previous["created_at"]
        messages[session_message.message_id] = session_message.to_dict()

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        """Return an agent's messages from index `offset` on, in order (at most `limit`)."""
        self._check(session_id)
        # Message ids run 0, 1, 2...: the id is the index that S3SessionManager's offset counts.
        ids = sorted(i for i in self._messages.get(agent_id, {}) if i >= offset)
        if limit is not None:
            ids = ids[:limit]
        return [SessionMessage.from_dict(self._messages[agent_id][i]) for i in ids]

    def _check(self, session_id: str) -> None:
        if session_id != self.session_id:
            raise SessionException(f"this document holds session {self.session_id}, not {session_id}")


def _removed_message_count(agent: dict[str, Any]) -> int:
    """How many leading messages the agent's conversation manager has dropped (and will skip on load)."""
    state = agent.get("conversation_manager_state") or {}
    count = state.get("removed_message_count", 0)
    return count if isinstance(count, int) else 0
