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

Ownership: a session belongs to the caller whose first successful turn created it (`owner_from_headers`);
the owner is kept, as a SHA-256 digest, in the session object's metadata and in the lock. Another caller
gets `SessionNotFoundError` (a 404), also while the owner's turn holds the lock, so a session's existence
is never revealed to anyone else.

Every method here does blocking S3 I/O: call them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError
from strands.session.repository_session_manager import RepositorySessionManager
from strands.types.exceptions import SessionException

from agent_api.contract import SESSION_MAX_BYTES
from agent_api.conversation import ConversationDocument

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef

# Lambda's maximum timeout (15 minutes) plus margin: no live request can still hold an older lock.
LOCK_TTL_SECONDS = 960
LOCK_PREFIX = "locks/"
SESSION_PREFIX = "sessions/"
# The header in which the Lambda Web Adapter forwards API Gateway's request context as JSON. The adapter
# sets it on every request it forwards, replacing any value the client sent (aws-lambda-web-adapter
# src/lib.rs, `fetch_response`: `req_headers.insert("x-amzn-request-context", ...)`), so it can be trusted
# behind the adapter. See docs/agent-api.md, Sessions.
REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
# The one owner of every session when the app runs without the adapter (`make demo`, tests).
LOCAL_OWNER = "local"
# S3 answers a lost conditional write with 412, or 409 when two conditional writes race on one key.
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
# User metadata of the session object (`x-amz-meta-owner`): the owner's digest.
_OWNER_METADATA = "owner"

logger = logging.getLogger(__name__)


class SessionBusyError(Exception):
    """Another request is answering on this session right now."""


class SessionNotFoundError(Exception):
    """The session belongs to another caller (answered exactly like a session that does not exist)."""


class SessionOwnerUnknownError(Exception):
    """The request context names no caller, so a session could not be bound to anyone."""


class SessionConflictError(SessionException):
    """The session object changed since this turn read it: the turn was not saved."""


class SessionTooLargeError(SessionException):
    """The session would exceed `SESSION_MAX_BYTES`: the turn was not saved."""


def owner_from_headers(headers: Mapping[str, str]) -> str:
    """Return the caller who owns the sessions this request may use.

    Behind the Lambda Web Adapter, API Gateway's request context names the caller: a Cognito user's `sub`
    (`authorizer.claims.sub` of a REST API's Cognito authorizer, `authorizer.jwt.claims.sub` of an HTTP API's
    JWT authorizer), else the IAM principal (`identity.userArn`, or `identity.caller` when there is no ARN;
    `authorizer.iam.userArn` in an HTTP API). Without the header (run locally) every request is `LOCAL_OWNER`.

    Raises:
        SessionOwnerUnknownError: the header is there but names no caller (an API without authorization).

    """
    raw = headers.get(REQUEST_CONTEXT_HEADER)
    if raw is None:
        return LOCAL_OWNER
    try:
        context = json.loads(raw)
    except ValueError:
        context = None
    if isinstance(context, dict):
        sub = _first_str(context, ("authorizer", "claims", "sub"), ("authorizer", "jwt", "claims", "sub"))
        if sub is not None:
            return f"cognito:{sub}"
        principal = _first_str(
            context, ("identity", "userArn"), ("identity", "caller"), ("authorizer", "iam", "userArn")
        )
        if principal is not None:
            return f"iam:{principal}"
    raise SessionOwnerUnknownError("the request context names no caller")


def _first_str(context: dict[str, Any], *paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value: Any = context
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def owner_digest(owner: str) -> str:
    """Return the form an owner is stored in (a digest: no caller ARN or user id in object metadata)."""
    return hashlib.sha256(owner.encode()).hexdigest()


@dataclass
class SessionLease:
    """A held session: its lock, the conversation read under it, and the ETag that conversation had.

    Holding one is what lets a request load and save its session's conversation, until it is released.
    """

    session_id: str
    owner: str
    key: str
    etag: str
    store: SessionStore = field(repr=False, compare=False)
    conversation: ConversationDocument | None = field(default=None, repr=False, compare=False)
    # The session object's ETag when it was read; None for a session that did not exist yet.
    object_etag: str | None = None

    def session_manager(self) -> RepositorySessionManager:
        """Build the Strands session manager of this session (no I/O: the conversation is already loaded)."""
        if self.conversation is None:
            raise RuntimeError("load the session before building its session manager")
        return RepositorySessionManager(session_id=self.session_id, session_repository=self.conversation)

    def save(self) -> None:
        """Write the turn's conversation back (see :meth:`SessionStore.save`)."""
        self.store.save(self)

    def release(self) -> None:
        """Let the session go (see :meth:`SessionStore.release`)."""
        self.store.release(self)


class SessionStore:
    """Reads and writes whole sessions in the sessions bucket and guards each session with a lock."""

    def __init__(
        self,
        bucket: str,
        boto_session: boto3.Session,
        *,
        lock_ttl_seconds: float = LOCK_TTL_SECONDS,
        max_bytes: int = SESSION_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self._s3: S3Client = boto_session.client("s3")
        self._lock_ttl_seconds = lock_ttl_seconds
        self._max_bytes = max_bytes
        self._clock = clock

    def open(self, session_id: str, owner: str) -> SessionLease:
        """Take the session's lock and load its conversation: 2 requests (lock, read).

        Raises:
            SessionBusyError: another live request of the owner holds it.
            SessionNotFoundError: the session, or the request holding it, belongs to another caller.

        """
        lease = self.acquire(session_id, owner)
        try:
            self.load(lease)
        except BaseException:
            self.release(lease)
            raise
        return lease

    def acquire(self, session_id: str, owner: str) -> SessionLease:
        """Take the session's lock.

        Raises:
            SessionBusyError: if another live request of the same owner holds it.
            SessionNotFoundError: if another caller's live request holds it, and the session is not ours.

        """
        key = f"{LOCK_PREFIX}{session_id}.lock"
        etag = self._put_lock(key, owner)
        if etag is not None:
            return SessionLease(session_id, owner, key, etag, self)
        held = self._read_lock(key)
        if held is None:
            # Released between our put and our read: one more try decides.
            etag = self._put_lock(key, owner)
        elif held.expires_at <= self._clock():
            logger.warning("taking over an expired session lock", extra={"session_lock": key})
            etag = self._put_lock(key, owner, replacing=held.etag)
        elif held.owner != owner_digest(owner) and self._owner_of(session_id) != owner_digest(owner):
            # Another caller's request holds it: a 409 would tell that caller the session exists.
            raise SessionNotFoundError(session_id)
        if etag is None:
            raise SessionBusyError(session_id)
        return SessionLease(session_id, owner, key, etag, self)

    def load(self, lease: SessionLease) -> None:
        """Read the session's conversation into the lease (a new, empty one if there is none).

        Raises:
            SessionNotFoundError: the session belongs to another caller.
            SessionException: the stored object is not a session of this layout.

        """
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self._object_key(lease.session_id))
        except ClientError as exc:
            if _error_code(exc) not in _NOT_FOUND:
                raise
            lease.conversation, lease.object_etag = ConversationDocument(lease.session_id), None
            return
        if response.get("Metadata", {}).get(_OWNER_METADATA) != owner_digest(lease.owner):
            raise SessionNotFoundError(lease.session_id)
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
            "Key": self._object_key(lease.session_id),
            "Body": body,
            "ContentType": "application/json",
            "Metadata": {_OWNER_METADATA: owner_digest(lease.owner)},
        }
        if lease.object_etag is None:
            request["IfNoneMatch"] = "*"
        else:
            request["IfMatch"] = lease.object_etag
        try:
            response = self._s3.put_object(**request)
        except ClientError as exc:
            if _error_code(exc) in _CONDITION_FAILED | {"NoSuchKey"}:
                raise SessionConflictError(
                    f"session {lease.session_id} was changed by another writer during this turn"
                ) from exc
            raise
        lease.object_etag = str(response["ETag"])

    def release(self, lease: SessionLease) -> None:
        """Delete the lock if it is still ours (after an expiry takeover it belongs to someone else)."""
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=lease.key, IfMatch=lease.etag)
        except ClientError as exc:
            if _error_code(exc) not in _CONDITION_FAILED | _NOT_FOUND:
                raise
            logger.warning("session lock was taken over before release", extra={"session_lock": lease.key})

    @staticmethod
    def _object_key(session_id: str) -> str:
        return f"{SESSION_PREFIX}{session_id}.json"

    def _owner_of(self, session_id: str) -> str | None:
        """Return the owner digest of a stored session, or None if there is none (only on the busy path)."""
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=self._object_key(session_id))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return None
            raise
        return response.get("Metadata", {}).get(_OWNER_METADATA)

    def _put_lock(self, key: str, owner: str, replacing: str | None = None) -> str | None:
        """Write a fresh lock where there is none, or over the version with ETag `replacing`.

        Returns its ETag, or None when the condition failed.
        """
        body = json.dumps(
            {
                "holder": uuid.uuid4().hex,
                "owner": owner_digest(owner),
                "expires_at": self._clock() + self._lock_ttl_seconds,
            }
        )
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
            if _error_code(exc) in _CONDITION_FAILED | {"NoSuchKey"}:
                return None
            raise
        return str(response["ETag"])

    def _read_lock(self, key: str) -> _HeldLock | None:
        """Return the current lock, or None if there is no lock."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return None
            raise
        try:
            data = json.loads(response["Body"].read())
            return _HeldLock(str(response["ETag"]), float(data["expires_at"]), str(data["owner"]))
        except (ValueError, KeyError, TypeError):
            # An unreadable lock cannot be proven live: treat it as expired so a session never stays stuck.
            return _HeldLock(str(response["ETag"]), 0.0, "")


@dataclass(frozen=True)
class _HeldLock:
    etag: str
    expires_at: float
    owner: str


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
