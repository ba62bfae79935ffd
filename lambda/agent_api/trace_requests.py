"""The ASGI middleware that gives each request for a turn its trace (`agent_api.tracing`).

It wraps the app, so every door and every kind of answer (a stream, one JSON answer, an error) is traced the
same way: the request's root span is current while the app answers it (the turn's task, started meanwhile,
runs beneath it), the response's status and ``x-request-id`` are noted as the app sends them, and the
request's spans are exported before the response's last message is passed on; a response that never sends
one (its client left) is exported when the app returns. Only ``POST`` requests to ``paths`` (the turns') are
traced.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_api.tracing import RequestTrace, Tracing

REQUEST_ID_HEADER = b"x-request-id"


class TraceTurns:
    """Traces the requests of ``paths`` with ``tracing`` (a pass-through when traces are off)."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing, paths: Collection[str]) -> None:
        self._app = app
        self._tracing = tracing
        self._paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request beneath its root span; export its spans before the response ends."""
        traced = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self._paths
        if not traced or not self._tracing.enabled:
            await self._app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        request = self._tracing.request(scope["method"], scope["path"], headers)

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                _note_start(request, message)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await request.finish()
            await send(message)

        try:
            with request.activated():
                await self._app(scope, receive, noting_send)
        finally:
            await request.finish()


def _note_start(request: RequestTrace, message: Message) -> None:
    request.set_status(int(message["status"]))
    for name, value in message.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER:
            request.set_request_id(value.decode("latin-1"))
