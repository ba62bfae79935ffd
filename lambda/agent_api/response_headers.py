"""The headers every answer of the app carries, whatever route or error produced it.

`X-Content-Type-Options: nosniff`: a browser takes each answer as the media type it names and never guesses
another. A JSON error may repeat what the request sent (an unknown field's name), so no answer may be read as
HTML. The chat page's answers set it themselves (agent_api.page); this covers the rest: JSON, errors, streams.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF: Final = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """Adds `X-Content-Type-Options: nosniff` to every HTTP answer that does not already carry it."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request with the app, the header added to the answer's start."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if all(name.lower() != NOSNIFF[0] for name, _ in headers):
                    message = {**message, "headers": [*headers, NOSNIFF]}
            await send(message)

        await self._app(scope, receive, send_with_header)
