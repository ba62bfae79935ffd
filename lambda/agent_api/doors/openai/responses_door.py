"""The Responses API door: `POST /v1/responses` (the pipeline's), `GET` and `DELETE /v1/responses/{id}`.

A response is stored (`responses_store`) when the deployment has a sessions bucket and the request did not
say `store: false`; `previous_response_id` continues a stored response of the same caller. Errors are
OpenAI's, as on chat completions.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api import contract
from agent_api.doors.openai.errors import error_body
from agent_api.doors.openai.responses_encoder import ResponseStream, WholeResponse
from agent_api.doors.openai.responses_request import parse_response_request
from agent_api.doors.openai.responses_store import ResponseStore
from agent_api.errors import ErrorReply
from agent_api.pipeline import Accepted, TurnPipeline, error_response, rejected, session_refusal
from agent_api.session_owner import SessionOwnerUnknownError, owner_from_headers
from agent_api.settings import Settings

RESPONSE_ID_PARAMETER: Final = "response_id"


class ResponsesDoor:
    """`/v1/responses`; its errors are OpenAI's."""

    name: Final = "response"
    prefix: Final = f"{contract.OPENAI_RESPONSES_PATH}/"
    """The paths whose errors (404, 405) it words: the stored responses' (OpenAI's shape, as under /v1)."""

    def __init__(self, settings: Settings, store: ResponseStore | None) -> None:
        self._settings = settings
        self._store = store

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Validate a response request; a stored or continued response opens its stored conversation."""
        request = parse_response_request(body, self._settings)
        encoder = ResponseStream(request.head) if request.stream else WholeResponse(request.head)
        conversation = None
        if request.store or request.previous_response_id is not None:
            assert self._store is not None, "responses are stored or continued only with a sessions bucket"
            conversation = functools.partial(
                self._store.open,
                previous_id=request.previous_response_id,
                head=request.head if request.store else None,
            )
        return Accepted(request.turn, encoder, conversation=conversation)

    def error_body(self, error: ErrorReply) -> dict[str, Any]:
        """Return OpenAI's error object."""
        return error_body(error)

    def routes(self, pipeline: TurnPipeline) -> list[Route]:
        """Return the door's routes; responses are answered by `pipeline`."""
        stored = f"{contract.OPENAI_RESPONSES_PATH}/{{{RESPONSE_ID_PARAMETER}}}"
        return [
            Route(contract.OPENAI_RESPONSES_PATH, pipeline.endpoint(self), methods=["POST"]),
            Route(stored, self.stored, methods=["GET", "DELETE"]),
        ]

    async def stored(self, request: Request) -> Response:
        """`GET` or `DELETE` a stored response."""
        return await (self.retrieve(request) if request.method == "GET" else self.delete(request))

    async def retrieve(self, request: Request) -> Response:
        """`GET /v1/responses/{id}`: the caller's stored response."""
        if request.query_params.get("stream") not in (None, "false"):
            return self._refuse(
                ErrorReply(
                    "unsupported_parameter",
                    "a stored response is returned whole: 'stream' is not supported here",
                    400,
                    param="stream",
                )
            )
        owner = self._owner(request)
        if isinstance(owner, Response):
            return owner
        assert self._store is not None
        response_id = request.path_params[RESPONSE_ID_PARAMETER]
        found = await asyncio.to_thread(self._store.get, owner, response_id)
        return self._not_found(response_id) if found is None else JSONResponse(found)

    async def delete(self, request: Request) -> Response:
        """`DELETE /v1/responses/{id}`: remove the caller's stored response."""
        owner = self._owner(request)
        if isinstance(owner, Response):
            return owner
        assert self._store is not None
        response_id = request.path_params[RESPONSE_ID_PARAMETER]
        if not await asyncio.to_thread(self._store.delete, owner, response_id):
            return self._not_found(response_id)
        return JSONResponse({"id": response_id, "object": "response", "deleted": True})

    def _owner(self, request: Request) -> str | Response:
        """Return the caller whose stored responses the request reaches, or the answer refusing it."""
        if self._store is None:
            return self._refuse(
                ErrorReply(
                    "sessions_disabled",
                    "responses are not stored on this deployment (it has no sessions bucket)",
                    400,
                )
            )
        try:
            return owner_from_headers(request.headers, self._settings.auth)
        except SessionOwnerUnknownError as exc:
            return self._refuse(session_refusal(exc))

    def _not_found(self, response_id: str) -> Response:
        return self._refuse(
            ErrorReply(
                "not_found", f"Response with id {response_id[:64]!r} not found.", 404, param="response_id"
            )
        )

    def _refuse(self, error: ErrorReply) -> Response:
        return error_response(self, rejected(self, error))
