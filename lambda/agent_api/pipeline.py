"""The one path of a request for a turn, whatever door (`agent_api.doors`) it came in by.

`TurnPipeline.answer` owns every step once: read and validate the request (the door parses its own body),
open the session, start the turn (`agent_api.turn`), wait for its first item together with the client's
disconnect, then answer: an error answer (before anything was produced: the error's own status), a stream,
or one whole answer. The turn's task wakes a model scaled to zero (or refuses), saves or leaves the session,
releases it, and writes the one end line and metrics document, however the request ends.

A door is a request parser and an encoder of the turn's items in its wire format (`Door`, `StreamEncoder`,
`WholeEncoder`): the events, the keep-alives (`status` events), the error that ends a stream, the end
(`done`), and its error answers. A door whose protocol owns the HTTP exchange (`/mcp`: JSON-RPC under the
`mcp` SDK's transport) starts its turns with `TurnPipeline.start` and reads their items itself.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agent_api import sse
from agent_api.errors import ErrorReply, classify
from agent_api.observability import logger, request_id_from_headers
from agent_api.session_owner import SessionOwnerUnknownError, owner_from_headers, request_context_values
from agent_api.sessions import SessionBusyError, SessionStore
from agent_api.settings import Settings
from agent_api.tracing import current_request
from agent_api.turn import Turn, TurnServices
from agent_api.turn_events import DONE, HeldConversation, TurnEvent, TurnItem
from agent_api.validation import RequestError, TurnRequest, check_content_type, max_body_bytes, read_body

CLIENT_CLOSED_REQUEST = 499
"""The status of a request whose client left before its answer began (never sent: the access logs' usual)."""


class StreamEncoder(ABC):
    """Encodes one request's turn as a stream (`text/event-stream`), item by item as they come."""

    @abstractmethod
    def event(self, event: TurnEvent) -> bytes:
        """Return what an event is sent as (the `done` event ends the stream; b"" sends nothing)."""

    @abstractmethod
    def error(self, error: ErrorReply) -> bytes:
        """Return what an error ending the stream after it began is sent as."""


class WholeEncoder(ABC):
    """Encodes one request's turn as one JSON answer, once the turn has ended with `done`."""

    @abstractmethod
    def answer(self, events: Sequence[TurnEvent]) -> dict[str, Any]:
        """Return the answer's JSON body from every event of the turn, `done` last."""


ConversationOpener = Callable[[str], HeldConversation]
"""Opens the stored conversation of a turn for its caller (the owner), with blocking I/O (run in a worker
thread); raises `RequestError` when the request may not have it (an unknown stored response: 404)."""


@dataclass(frozen=True)
class Accepted:
    """A request a door parsed: the turn to answer, how to encode it, and headers of its answer.

    `conversation` opens the stored conversation the turn starts from and saves to, when it is not the
    turn's session (`TurnRequest.session_id`): a stored response (`previous_response_id`, `store`).
    """

    turn: TurnRequest
    encoder: StreamEncoder | WholeEncoder
    headers: Mapping[str, str] = field(default_factory=dict)
    conversation: ConversationOpener | None = None


class Door(Protocol):
    """One wire format of the agent: its routes, its request parser, the words of its errors.

    Its encoders (`StreamEncoder`, `WholeEncoder`), which `parse` picks for each request, do the rest.
    """

    @property
    def name(self) -> str:
        """What its log lines call a request (`chat request accepted`)."""

    @property
    def prefix(self) -> str:
        """The paths whose 404 and 405 answers it words (the longest prefix claiming a path wins)."""

    def routes(self, pipeline: TurnPipeline) -> list[Route]:
        """Return its routes; those answering a turn are `pipeline.endpoint(self)`."""

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Validate a request's body (and headers).

        Raises:
            RequestError: naming the first problem found.

        """

    def error_body(self, error: ErrorReply) -> dict[str, Any]:
        """Return an error answer's JSON body (its status, and headers, are the pipeline's)."""


class TurnPipeline:
    """Answers the requests of every door; holds what lives for the whole process.

    `sessions` is the session store when the settings enable sessions (validation accepts a `session_id`
    only then).
    """

    def __init__(self, settings: Settings, services: TurnServices, sessions: SessionStore | None) -> None:
        self._services = services
        self._sessions = sessions
        self._auth = settings.auth
        self._max_body_bytes = max_body_bytes(settings)

    def endpoint(self, door: Door) -> Callable[[Request], Awaitable[Response]]:
        """Return the route endpoint answering `door`'s requests."""

        async def answer(request: Request) -> Response:
            return await self.answer(request, door)

        return answer

    async def answer(self, request: Request, door: Door) -> Response:
        """Answer one request for a turn; client errors are answered before anything runs."""
        request_id = request_id_from_headers(request.headers)
        logger.thread_safe_append_keys(request_id=request_id)
        try:
            request_context_values(request.headers)
        except SessionOwnerUnknownError as exc:
            return error_response(door, rejected(door, session_refusal(exc)), request_id)
        try:
            check_content_type(request.headers.get("content-type"))
            body = await read_body(request, self._max_body_bytes)
            accepted = door.parse(body, request.headers)
        except RequestError as exc:
            return error_response(door, rejected(door, exc.reply()), request_id)
        except ClientDisconnect:
            # The client left before its body arrived: nobody is left to answer, and nothing was started.
            logger.info(f"{door.name} request abandoned by the client before its body arrived")
            return Response(status_code=400)
        streamed = isinstance(accepted.encoder, StreamEncoder)
        started = await self.start(door, accepted, request.headers, request_id, streamed=streamed)
        if isinstance(started, ErrorReply):
            return error_response(door, started, request_id)
        turn = started
        # Watched from now until the answer has ended: the turn is cancelled as soon as its client leaves.
        watch = _ClientWatch(request, turn)
        first = await turn.next()
        if first is None or isinstance(first, ErrorReply) or not streamed:
            try:
                return await self._answer_at_once(door, accepted, turn, first, request_id)
            finally:
                watch.stop()
        assert isinstance(accepted.encoder, StreamEncoder)
        headers = {**sse.HEADERS, "x-request-id": request_id, **accepted.headers}
        return _EventStream(_stream(turn, first, accepted.encoder, watch), headers)

    async def start(
        self, door: Door, accepted: Accepted, headers: Headers, request_id: str, *, streamed: bool
    ) -> Turn | ErrorReply:
        """Start the turn of a request its door accepted: open its stored conversation, then start it.

        Returns the running turn, whose items the caller reads to its end and which it closes however it
        ends (`Turn.close`), or why it may not run now (a busy session, an unknown stored response, ...).
        `streamed` says whether the door sends something while the turn runs (a stream, progress): only
        then can the answer wait for a model scaled to zero, unless the caller said `"wait": false`.
        """
        turn_request = accepted.turn
        current_request().set_session(turn_request.session_id is not None)
        logger.info(
            f"{door.name} request accepted",
            extra={
                "session_id": turn_request.session_id,
                "prompt_chars": len(turn_request.prompt),
                "history_messages": len(turn_request.history),
                "max_tokens": turn_request.max_tokens,
                "stream": streamed,
            },
        )
        lease: HeldConversation | None = None
        opener = self._opener(accepted)
        if opener is not None:
            opened = await self._open_conversation(opener, headers, request_id, door)
            if isinstance(opened, ErrorReply):
                return opened
            lease = opened
        may_wait = turn_request.wait and streamed
        turn = Turn(turn_request, self._services, lease=lease, request_id=request_id, may_wait=may_wait)
        turn.start()
        return turn

    def _opener(self, accepted: Accepted) -> ConversationOpener | None:
        """Return how to open the turn's stored conversation: the door's, its session, or none."""
        if accepted.conversation is not None:
            return accepted.conversation
        session_id = accepted.turn.session_id
        if session_id is None:
            return None
        assert self._sessions is not None, "requests name a session_id only with sessions on"
        return functools.partial(self._sessions.open, session_id)

    async def _answer_at_once(
        self, door: Door, accepted: Accepted, turn: Turn, first: TurnItem | None, request_id: str
    ) -> Response:
        """Answer with one response: an error before anything was produced, or a whole answer."""
        events: list[TurnEvent] = []
        item = first
        try:
            while isinstance(item, TurnEvent):
                events.append(item)
                item = await turn.next()
        finally:
            await turn.close()
        if isinstance(item, ErrorReply):
            return error_response(door, item, request_id)
        if not events or events[-1].name != DONE:
            # Ended without a last item: the client left, and the turn was cancelled.
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        assert isinstance(accepted.encoder, WholeEncoder)
        body = accepted.encoder.answer(events)
        return JSONResponse(body, headers={"x-request-id": request_id, **accepted.headers})

    async def _open_conversation(
        self, opener: ConversationOpener, headers: Headers, request_id: str, door: Door
    ) -> HeldConversation | ErrorReply:
        """Open the caller's stored conversation, or say why this request may not have it now."""
        try:
            owner = owner_from_headers(headers, self._auth)
            # Lock and read the whole conversation in a worker thread: S3 I/O never runs on the loop.
            return await asyncio.to_thread(opener, owner)
        except (SessionBusyError, SessionOwnerUnknownError) as exc:
            return rejected(door, session_refusal(exc))
        except RequestError as exc:
            return rejected(door, exc.reply())
        except Exception as exc:
            error = classify(exc, request_id)
            logger.warning(
                f"{door.name} request failed before streaming",
                extra={"code": error.code, "exception": type(exc).__name__},
                exc_info=exc if error.code == "internal_error" else None,
            )
            return error


def error_response(door: Door, error: ErrorReply, request_id: str | None = None) -> JSONResponse:
    """Answer with the error in the door's words, its status and headers; the request id rides along."""
    headers = {**error.headers, "x-request-id": request_id} if request_id else dict(error.headers)
    current_request().note_error(error.code, error.status >= 500)
    return JSONResponse(door.error_body(error), status_code=error.status, headers=headers)


def rejected(door: Door, error: ErrorReply) -> ErrorReply:
    """Log a request refused before its turn started (one line, at info: the client's error); return it."""
    logger.info(f"{door.name} request rejected", extra={"code": error.code, "status": error.status})
    return error


def session_refusal(exc: Exception) -> ErrorReply:
    """Answer a request that may not use its session now (busy) or at all (no known caller)."""
    if isinstance(exc, SessionBusyError):
        busy = "another request is being answered on this session; retry when it has finished"
        return ErrorReply("session_busy", busy, 409)
    return ErrorReply("session_owner_unknown", str(exc), 403)


class _ClientWatch:
    """Cancels a turn as soon as its client disconnects, until `stop`.

    Until a response streams, Starlette cannot notice a client leaving (it notices while it writes a body);
    the request's body has been read, so the next ASGI message is the disconnect.
    """

    def __init__(self, request: Request, turn: Turn) -> None:
        self._turn = turn
        self._task = asyncio.ensure_future(_disconnected(request))
        self._task.add_done_callback(self._done)

    def stop(self) -> None:
        self._task.cancel()

    def _done(self, task: asyncio.Future[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.warning(
                "watching for the client to leave failed", extra={"exception": type(error).__name__}
            )
            return
        self._turn.cancel()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _stream(
    turn: Turn, first: TurnItem, encoder: StreamEncoder, watch: _ClientWatch
) -> AsyncGenerator[bytes, None]:
    """Yield the response body: every item as soon as the turn produces it, until the end.

    A client leaving cancels the turn (`watch`), which then ends at once, and so does the body.
    """
    item: TurnItem | None = first
    try:
        while item is not None:
            chunk = encoder.error(item) if isinstance(item, ErrorReply) else encoder.event(item)
            if chunk:
                yield chunk
            item = await turn.next()
    finally:
        watch.stop()
        await turn.close()


class _EventStream(Response):
    """A `text/event-stream` answer whose body is written as it is produced.

    Unlike Starlette's `StreamingResponse` it does not listen for the client leaving in a task group of its
    own: the pipeline's `_ClientWatch` already does, for the whole request and every door alike, and ends the
    body by cancelling the turn (the task group also cost 0.05-0.09 ms of the time to the first byte).
    """

    media_type = sse.MEDIA_TYPE

    def __init__(self, body: AsyncGenerator[bytes, None], headers: Mapping[str, str]) -> None:
        self._body = body
        self.status_code = 200
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self._body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # Under ASGI 2.4 a write to a client that left raises: closing the body stops the turn.
            pass
        finally:
            await self._body.aclose()
