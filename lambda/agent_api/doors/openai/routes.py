"""The OpenAI-compatible door's routes.

`POST /v1/chat/completions` (the pipeline's), `GET /v1/models` and `GET /v1/models/{id}`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_api import contract
from agent_api.doors.openai.completions_encoder import CompletionStream, WholeCompletion
from agent_api.doors.openai.completions_request import parse_completion_request
from agent_api.doors.openai.errors import error_body
from agent_api.errors import ErrorReply
from agent_api.pipeline import Accepted, TurnPipeline
from agent_api.settings import Settings


class CompletionsDoor:
    """`/v1/chat/completions`, and OpenAI's error shape for every path under `/v1`."""

    name: Final = "completion"
    prefix: Final = f"{contract.OPENAI_PREFIX}/"
    """The paths whose errors (404, 405) it words."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Validate a completion request; `X-Session-Id` names its session."""
        session_id = headers.get(contract.SESSION_ID_HEADER)
        completion = parse_completion_request(body, self._settings, session_id)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        encoder = (
            CompletionStream(completion_id, completion.include_usage)
            if completion.stream
            else WholeCompletion(completion_id)
        )
        # The answer repeats the session header.
        session = completion.turn.session_id
        return Accepted(
            completion.turn, encoder, {} if session is None else {contract.SESSION_ID_HEADER: session}
        )

    def error_body(self, error: ErrorReply) -> dict[str, Any]:
        """Return OpenAI's error object."""
        return error_body(error)

    def routes(self, pipeline: TurnPipeline) -> list[Route]:
        """Return the door's routes; completions are answered by `pipeline`."""
        return [
            Route(contract.OPENAI_CHAT_COMPLETIONS_PATH, pipeline.endpoint(self), methods=["POST"]),
            Route(contract.OPENAI_MODELS_PATH, models, methods=["GET"]),
            Route(f"{contract.OPENAI_MODELS_PATH}/{{model_id}}", model, methods=["GET"]),
        ]


MODEL: Final = {
    "id": contract.OPENAI_MODEL_ID,
    "object": "model",
    "created": 0,
    "owned_by": contract.SERVICE_NAME,
}
"""The one model: the agent."""


async def models(request: Request) -> Response:
    """List the one model: the agent."""
    return JSONResponse({"object": "list", "data": [MODEL]})


async def model(request: Request) -> Response:
    """Describe a model: the agent, or OpenAI's 404 `model_not_found` for any other id."""
    model_id = request.path_params["model_id"]
    if model_id != contract.OPENAI_MODEL_ID:
        error = ErrorReply(
            "model_not_found",
            f"model {model_id[:64]!r} does not exist; this API serves {contract.OPENAI_MODEL_ID!r}",
            404,
            param="model",
        )
        return JSONResponse(error_body(error), status_code=404)
    return JSONResponse(MODEL)
