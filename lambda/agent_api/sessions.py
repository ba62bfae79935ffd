"""Conversation sessions in S3: one object per session, one turn at a time, each session owned by its caller.

Cost: a turn makes 4 S3 requests, whatever the length of the conversation: put the lock, get the session
object, put it back, delete the lock. The whole conversation is one object (`agent_api.conversation`), read
once before the turn and written once after a successful turn; a turn that fails or is cancelled writes
nothing, so the stored session stays exactly as it was.

Writes are conditional, so a lost race is detected and reported, never silently overwritten: an existing
session is written with `If-Match` on the ETag it was read with, a new one with `If-None-Match: *`.

One turn at a time: a session answers one request at a time; a second concurrent request on it gets 409
`session_busy` instead of waiting. Waiting would hold a Lambda instance (and the caller's connection) idle
for up to a whole answer. The rule holds across Lambda instances through a lock object in the sessions bucket,
created with a conditional put (`If-None-Match: *`, atomic in S3). A lock whose holder died (timeout, crash)
expires after `LOCK_TTL_SECONDS`, longer than any request can run, and is then taken over with a conditional
put on its ETag, so two takers cannot both win. Release deletes the lock only if it is still ours
(`If-Match`).

Ownership: each caller has a space of its own in the bucket, named by a digest of the owner
(`agent_api.session_owner`): `sessions/<digest>/<session_id>.json` and `locks/<digest>/<session_id>.lock`.
The same `session_id` names different sessions for different callers, so a caller can neither reach nor
detect another's session, nor take an id first to lock its owner out: every answer depends only on the
caller's own sessions.

Every method here does blocking S3 I/O: call them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from strands.session.repository_session_manager import RepositorySessionManager
from strands.types.exceptions import SessionException

from agent_api.contract import SESSION_MAX_BYTES
from agent_api.conversation import ConversationDocument
from agent_api.session_owner import owner_digest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef

    from agent_api.turn_events import FinishedTurn

# Lambda's maximum timeout (15 minutes) plus margin: no live request can still hold an older lock.
LOCK_TTL_SECONDS = 960
LOCK_PREFIX = "locks/"
SESSION_PREFIX = "sessions/"
# S3 answers a lost conditional write with 412, or 409 when two conditional writes race on one key.
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
S3_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})

logger = logging.getLogger(__name__)


class SessionBusyError(Exception):
    """Another request is answering on this session right now."""


class SessionConflictError(SessionException):
    """The session object changed since this turn read it: the turn was not saved."""


class SessionTooLargeError(SessionException):
    """The session would exceed `SESSION_MAX_BYTES`: the turn was not saved."""


def session_object_key(owner: str, session_id: str) -> str:
    """Return the key of an owner's session object."""
    return f"{SESSION_PREFIX}{owner_digest(owner)}/{session_id}.json"


def session_lock_key(owner: str, session_id: str) -> str:
    """Return the key of the lock of an owner's session."""
    return f"{LOCK_PREFIX}{owner_digest(owner)}/{session_id}.lock"


@dataclass
class SessionLease:
    """A held session: its lock, the conversation read under it, and the ETag that conversation had.

    Holding one is what lets a request load and save its session's conversation, until it is released.
    """

    session_id: str
    owner: str
    # The lock's ETag: release deletes the lock only while it is still this one.
    etag: str
    store: SessionStore = field(repr=False, compare=False)
    conversation: ConversationDocument | None = field(default=None, repr=False, compare=False)
    # The session object's ETag when it was read; None for a session that did not exist yet.
    object_etag: str | None = None

    @property
    def lock_key(self) -> str:
        """The key of the lock this lease holds."""
        return session_lock_key(self.owner, self.session_id)

    @property
    def object_key(self) -> str:
        """The key of the session object."""
        return session_object_key(self.owner, self.session_id)

    def session_manager(self) -> RepositorySessionManager:
        """Build the Strands session manager of this session (no I/O: the conversation is already loaded)."""
        if self.conversation is None:
            raise RuntimeError("load the session before building its session manager")
        return RepositorySessionManager(session_id=self.session_id, session_repository=self.conversation)

    def reload(self) -> None:
        """Read the conversation again (see :meth:`SessionStore.load`)."""
        self.store.load(self)

    def save(self, finished: FinishedTurn | None = None) -> None:
        """Write the turn's conversation back (see :meth:`SessionStore.save`).

        A session keeps only the conversation, not the events of the turn (`finished`).
        """
        self.store.save(self)

    def release(self) -> None:
        """Let the session go (see :meth:`SessionStore.release`)."""
        self.store.release(self)


class SessionStore:
    """Reads and writes whole sessions in the sessions bucket and guards each session with a lock.

    Every session belongs to an owner (`agent_api.session_owner.owner_from_headers`) and lives in that
    owner's space: the store never reads or writes outside the space of the owner it is given.
    """

    def __init__(
        self,
        bucket: str,
        s3: S3Client,
        *,
        lock_ttl_seconds: float = LOCK_TTL_SECONDS,
        max_bytes: int = SESSION_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self._s3 = s3
        self._lock_ttl_seconds = lock_ttl_seconds
        self._max_bytes = max_bytes
        self._clock = clock

    def open(self, session_id: str, owner: str) -> SessionLease:
        """Take the owner's session's lock and load its conversation: 2 requests (lock, read).

        Raises:
            SessionBusyError: another live request of the owner holds it.

        """
        lease = self.acquire(session_id, owner)
        try:
            self.load(lease)
        except BaseException:
            self.release(lease)
            raise
        return lease

    def acquire(self, session_id: str, owner: str) -> SessionLease:
        """Take the lock of the owner's session.

        Raises:
            SessionBusyError: if another live request of the owner holds it.

        """
        key = session_lock_key(owner, session_id)
        etag = self._put_lock(key)
        if etag is None:
            held = self._read_lock(key)
            if held is None:
                # Released between our put and our read: one more try decides.
                etag = self._put_lock(key)
            elif held.expires_at <= self._clock():
                logger.warning("taking over an expired session lock", extra={"session_lock": key})
                etag = self._put_lock(key, replacing=held.etag)
        if etag is None:
            raise SessionBusyError(session_id)
        return SessionLease(session_id, owner, etag, self)

    def load(self, lease: SessionLease) -> None:
        """Read the session's conversation into the lease (a new, empty one if there is none).

        Raises:
            SessionException: the stored object is not a session of this layout.

        """
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=lease.object_key)
        except ClientError as exc:
            if s3_error_code(exc) not in S3_NOT_FOUND:
                raise
            lease.conversation, lease.object_etag = ConversationDocument(lease.session_id), None
            return
        body = response["Body"].read()
        lease.conversation = ConversationDocument.from_json(lease.session_id, body)
        lease.object_etag = str(response["ETag"])

    def save(self, lease: SessionLease) -> None:
        """Write the lease's conversation with one conditional put.

        Raises:
            SessionConflictError: the object changed since it was read (or appeared, for a new session).
            SessionTooLargeError: the conversation is larger than the store's limit; nothing was written.

        """
        if lease.conversation is None:
            raise RuntimeError("load the session before saving it")
        body = lease.conversation.to_json()
        if len(body) > self._max_bytes:
            raise SessionTooLargeError(
                f"session {lease.session_id} would be {len(body)} bytes, over the {self._max_bytes} limit"
            )
        request: PutObjectRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": lease.object_key,
            "Body": body,
            "ContentType": "application/json",
        }
        if lease.object_etag is None:
            request["IfNoneMatch"] = "*"
        else:
            request["IfMatch"] = lease.object_etag
        try:
            response = self._s3.put_object(**request)
        except ClientError as exc:
            if s3_error_code(exc) in _CONDITION_FAILED | {"NoSuchKey"}:
                raise SessionConflictError(
                    f"session {lease.session_id} was changed by another writer during this turn"
                ) from exc
            raise
        lease.object_etag = str(response["ETag"])

    def release(self, lease: SessionLease) -> None:
        """Delete the lock if it is still ours (after an expiry takeover it belongs to someone else)."""
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=lease.lock_key, IfMatch=lease.etag)
        except ClientError as exc:
            if s3_error_code(exc) not in _CONDITION_FAILED | S3_NOT_FOUND:
                raise
            logger.warning(
                "session lock was taken over before release", extra={"session_lock": lease.lock_key}
            )

    def _put_lock(self, key: str, replacing: str | None = None) -> str | None:
        """Write a fresh lock where there is none, or over the version with ETag `replacing`.

        Returns its ETag, or None when the condition failed.
        """
        body = json.dumps({"holder": uuid.uuid4().hex, "expires_at": self._clock() + self._lock_ttl_seconds})
        request: PutObjectRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body.encode(),
            "ContentType": "application/json",
        }
        if replacing is None:
            request["IfNoneMatch"] = "*"
        else:
            request["IfMatch"] = replacing
        try:
            response = self._s3.put_object(**request)
        except ClientError as exc:
            if s3_error_code(exc) in _CONDITION_FAILED | {"NoSuchKey"}:
                return None
            raise
        return str(response["ETag"])

    def _read_lock(self, key: str) -> _HeldLock | None:
        """Return the current lock, or None if there is no lock."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if s3_error_code(exc) in S3_NOT_FOUND:
                return None
            raise
        try:
            data = json.loads(response["Body"].read())
            return _HeldLock(str(response["ETag"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            # An unreadable lock cannot be proven live: treat it as expired so a session never stays stuck.
            return _HeldLock(str(response["ETag"]), 0.0)


@dataclass(frozen=True)
class _HeldLock:
    etag: str
    expires_at: float


def s3_error_code(exc: ClientError) -> str:
    """Return the error code of an S3 call's failure ("" when it has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))
