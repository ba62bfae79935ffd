"""Conversation sessions in S3, and the one-turn-at-a-time rule for each session.

Rule: a session answers one request at a time; a second concurrent request on the same session gets
409 `session_busy` instead of waiting. Waiting would hold a Lambda instance (and the caller's connection)
idle for up to a whole answer, and two interleaved turns would each save a history missing the other's.

The rule holds across Lambda instances through a lock object in the sessions bucket, created with a
conditional put (`If-None-Match: *`, atomic in S3). A lock whose holder died (timeout, crash) expires after
`LOCK_TTL_SECONDS`, longer than any request can run, and is then taken over with a conditional put on its
ETag, so two takers cannot both win. Release deletes the lock only if it is still ours (`If-Match`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError
from strands.session.s3_session_manager import S3SessionManager

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef

# Lambda's maximum timeout (15 minutes) plus margin: no live request can still hold an older lock.
LOCK_TTL_SECONDS = 960
LOCK_PREFIX = "locks/"
# S3 answers a lost conditional write with 412, or 409 when two conditional writes race on one key.
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})

logger = logging.getLogger(__name__)


class SessionBusyError(Exception):
    """Another request is answering on this session right now."""


@dataclass(frozen=True)
class SessionLease:
    """A held session: the lock object's key and the ETag of our version of it, and the store to use it with.

    Holding one is what lets a request load and save its session's conversation, until it is released.
    """

    session_id: str
    key: str
    etag: str
    store: SessionStore = field(repr=False, compare=False)

    def session_manager(self) -> S3SessionManager:
        """Build the Strands session manager of this session (it reads S3: call it off the event loop)."""
        return self.store.session_manager(self.session_id)

    def release(self) -> None:
        """Let the session go (see :meth:`SessionStore.release`)."""
        self.store.release(self)


class SessionStore:
    """Creates Strands session managers on the sessions bucket and guards each session with a lock."""

    def __init__(
        self,
        bucket: str,
        boto_session: boto3.Session,
        *,
        lock_ttl_seconds: float = LOCK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self._boto_session = boto_session
        self._s3: S3Client = boto_session.client("s3")
        self._lock_ttl_seconds = lock_ttl_seconds
        self._clock = clock

    def session_manager(self, session_id: str) -> S3SessionManager:
        """Build a Strands `S3SessionManager` that loads and saves this session's conversation."""
        return S3SessionManager(session_id=session_id, bucket=self.bucket, boto_session=self._boto_session)

    def acquire(self, session_id: str) -> SessionLease:
        """Take the session's lock.

        Raises:
            SessionBusyError: if another live request holds it.

        """
        key = f"{LOCK_PREFIX}{session_id}.lock"
        etag = self._put_lock(key)
        if etag is not None:
            return SessionLease(session_id, key, etag, self)
        held = self._read_lock(key)
        if held is None:
            # Released between our put and our read: one more try decides.
            etag = self._put_lock(key)
        elif held[1] <= self._clock():
            logger.warning("taking over an expired session lock", extra={"session_lock": key})
            etag = self._put_lock(key, replacing=held[0])
        if etag is None:
            raise SessionBusyError(session_id)
        return SessionLease(session_id, key, etag, self)

    def release(self, lease: SessionLease) -> None:
        """Delete the lock if it is still ours (after an expiry takeover it belongs to someone else)."""
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=lease.key, IfMatch=lease.etag)
        except ClientError as exc:
            if _error_code(exc) not in _CONDITION_FAILED | {"NoSuchKey", "404"}:
                raise
            logger.warning("session lock was taken over before release", extra={"session_lock": lease.key})

    def _put_lock(self, key: str, replacing: str | None = None) -> str | None:
        """Write a fresh lock where there is none, or over the version with ETag `replacing`.

        Returns its ETag, or None when the condition failed.
        """
        body = json.dumps({"owner": uuid.uuid4().hex, "expires_at": self._clock() + self._lock_ttl_seconds})
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

    def _read_lock(self, key: str) -> tuple[str, float] | None:
        """Return the current lock's ETag and expiry time, or None if there is no lock."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        try:
            expires_at = float(json.loads(response["Body"].read())["expires_at"])
        except (ValueError, KeyError, TypeError):
            # An unreadable lock cannot be proven live: treat it as expired so a session never stays stuck.
            expires_at = 0.0
        return str(response["ETag"]), expires_at


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
