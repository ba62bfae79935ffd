"""Helpers of the session tests: S3 requests counted on the app's own boto3 session, and the history sent."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.agent_api.harness import Harness


@dataclass(frozen=True)
class S3Request:
    """One request botocore sent to S3: its operation, and whether it was sent from an event loop's thread."""

    operation: str
    on_event_loop: bool


@dataclass
class S3Requests:
    """Records every request the clients of `session` send to S3 (botocore's `before-send` event).

    Give `session` to the app (`harness(..., boto_session=requests.session)`) before it creates its clients:
    a client copies the session's event handlers when it is created.
    """

    session: boto3.Session = field(default_factory=boto3.Session)
    sent: list[S3Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.session.events.register("before-send.s3", self._record)

    def _record(self, event_name: str, **kwargs: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        with self._lock:
            self.sent.append(S3Request(event_name.rsplit(".", 1)[-1], on_loop))

    def take(self) -> list[str]:
        """The operations sent since the last call, in order."""
        with self._lock:
            operations = [request.operation for request in self.sent]
            self.sent.clear()
        return operations


def roles_sent(app: Harness, call: int = -1) -> list[str]:
    """The roles of the conversation the app sent the model in a call (the last one by default)."""
    return [
        message["role"] for message in app.runtime.bodies[call]["messages"] if message["role"] != "system"
    ]
