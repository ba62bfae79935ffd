"""Stored responses in the sessions bucket: each response one object, with the conversation it ends.

`responses/<owner digest>/<response id>.json` holds the Response object (what `GET /v1/responses/{id}`
returns) and the whole conversation as of its end, in the session layout (`agent_api.conversation`). A
response continued with `previous_response_id` starts from that conversation, and its own answer is stored
under its own new id: the earlier object is only read, never changed, so any earlier response can be
continued (branching, as OpenAI's responses can), two requests may continue one response at the same time,
and no lock is needed. A turn costs 2 S3 requests (read the previous response, write the new one), 1 without
a previous response, none with `store: false` and no previous response; objects are written with
`If-None-Match: *`, so a response is never overwritten.

Each caller (owner) has a space of its own, named by a digest of the owner, as sessions have
(`agent_api.session_owner`): another caller's response id is unknown here, exactly as an id never given.
Responses expire with the bucket's lifecycle rule (`session_ttl_days`), like sessions.

Every method here does blocking S3 I/O: call them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError
from strands.session.repository_session_manager import RepositorySessionManager
from strands.types.exceptions import SessionException

from agent_api import conversation
from agent_api.contract import SESSION_MAX_BYTES
from agent_api.conversation import ConversationDocument
from agent_api.doors.openai.responses_encoder import ResponseHead, whole_response
from agent_api.doors.openai.responses_request import RESPONSE_ID_PATTERN, previous_not_found
from agent_api.errors import ErrorReply, ReplyError
from agent_api.session_owner import owner_digest
from agent_api.sessions import S3_NOT_FOUND, s3_error_code
from agent_api.turn_events import FinishedTurn

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESPONSE_PREFIX: Final = "responses/"
LAYOUT: Final = "agent-api-response/1"
CONVERSATION_ID: Final = "response"
"""The session id inside every stored response's conversation (the object's key is what names it)."""


def response_key(owner: str, response_id: str) -> str:
    """Return the key of an owner's stored response."""
    return f"{RESPONSE_PREFIX}{owner_digest(owner)}/{response_id}.json"


@dataclass
class ResponseLease:
    """The conversation a response's turn starts from, and what it is stored as.

    The conversation is the previous response's, or a new one; after a complete answer it is stored as the
    new response `head`, unless `head` is None (`store: false`).
    """

    store: ResponseStore = field(repr=False)
    owner: str
    head: ResponseHead | None
    previous: dict[str, Any] | None = field(default=None, repr=False)
    """The previous response's conversation document, as read (None: a new conversation)."""
    conversation: ConversationDocument = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reload()

    def session_manager(self) -> RepositorySessionManager:
        """Build the Strands session manager of the conversation (no I/O)."""
        return RepositorySessionManager(session_id=CONVERSATION_ID, session_repository=self.conversation)

    def reload(self) -> None:
        """Start again from the conversation as it was read (no I/O: it was kept)."""
        self.conversation = ConversationDocument(CONVERSATION_ID, self.previous)

    def save(self, finished: FinishedTurn) -> None:
        """Store the new response and its conversation (nothing with `store: false`)."""
        if self.head is not None:
            self.store.put(self.owner, whole_response(self.head, finished.events), self.conversation)

    def release(self) -> None:
        """Nothing to let go: a stored response is never locked."""


class ResponseStore:
    """Reads, writes and deletes the stored responses of each owner in the sessions bucket."""

    def __init__(self, bucket: str, s3: S3Client, *, max_bytes: int = SESSION_MAX_BYTES) -> None:
        self.bucket = bucket
        self._s3 = s3
        self._max_bytes = max_bytes

    def open(self, owner: str, previous_id: str | None, head: ResponseHead | None) -> ResponseLease:
        """Read the previous response's conversation (if any) for a turn to continue: 1 request.

        Raises:
            RequestError: the owner has no stored response `previous_id` (404 `previous_response_not_found`).
            SessionException: the stored object is not a response of this layout.

        """
        previous = None
        if previous_id is not None:
            stored = self._read(owner, previous_id)
            if stored is None:
                raise previous_not_found(previous_id)
            previous = stored["conversation"]
        return ResponseLease(self, owner, head, previous)

    def get(self, owner: str, response_id: str) -> dict[str, Any] | None:
        """Return the owner's stored Response object `response_id`, or None: 1 request."""
        stored = self._read(owner, response_id)
        return None if stored is None else dict(stored["response"])

    def delete(self, owner: str, response_id: str) -> bool:
        """Delete the owner's stored response; return whether there was one: 2 requests."""
        if not RESPONSE_ID_PATTERN.fullmatch(response_id):
            return False
        key = response_key(owner, response_id)
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if s3_error_code(exc) in S3_NOT_FOUND:
                return False
            raise
        self._s3.delete_object(Bucket=self.bucket, Key=key)
        return True

    def put(self, owner: str, response: dict[str, Any], document: ConversationDocument) -> None:
        """Write a new response with its conversation, once (`If-None-Match: *`): 1 request.

        Raises:
            ReplyError: `response_too_large` (413), the object would be larger than the store's limit; nothing
                was written.

        """
        body = b"".join(
            (
                b'{"layout":',
                json.dumps(LAYOUT).encode(),
                b',"response":',
                json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode(),
                b',"conversation":',
                document.to_json(),
                b"}",
            )
        )
        if len(body) > self._max_bytes:
            raise ReplyError(
                ErrorReply(
                    "response_too_large",
                    f"the conversation has reached its size limit ({self._max_bytes} bytes stored); this "
                    "response was not stored: start a new conversation without previous_response_id",
                    413,
                )
            )
        self._s3.put_object(
            Bucket=self.bucket,
            Key=response_key(owner, response["id"]),
            Body=body,
            ContentType="application/json",
            IfNoneMatch="*",
        )

    def _read(self, owner: str, response_id: str) -> dict[str, Any] | None:
        """Return the owner's stored object `response_id`, or None if there is none."""
        if not RESPONSE_ID_PATTERN.fullmatch(response_id):
            return None
        try:
            got = self._s3.get_object(Bucket=self.bucket, Key=response_key(owner, response_id))
        except ClientError as exc:
            if s3_error_code(exc) in S3_NOT_FOUND:
                return None
            raise
        try:
            stored = json.loads(got["Body"].read())
        except ValueError as exc:
            raise SessionException(f"stored response {response_id} is not valid JSON") from exc
        if (
            not isinstance(stored, dict)
            or stored.get("layout") != LAYOUT
            or not isinstance(stored.get("response"), dict)
            or not isinstance(stored.get("conversation"), dict)
            or stored["conversation"].get("layout") != conversation.LAYOUT
        ):
            raise SessionException(f"stored response {response_id} is not a {LAYOUT} document")
        return stored
