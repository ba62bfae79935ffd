"""Helpers of the Responses API tests: the SDK client, the raw stream, OpenAI's own models validating it."""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from agent_api.doors.openai.responses_encoder import AGENT_EVENT
from tests.agent_api.harness import Harness
from tests.support.openai_sdk import openai_client

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def sdk(app: Harness, **headers: str) -> openai.OpenAI:
    """The unmodified SDK pointed at the app."""
    return openai_client(str(app.client.base_url), **headers)


def raw_events(app: Harness, body: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    """POST a streamed response request and return its events' payloads, each checked against its SSE name."""
    events = []
    with app.client.stream("POST", "/v1/responses", json={**body, "stream": True}, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        name = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                assert event["type"] == name
                events.append(event)
    return events


def validated(events: list[dict[str, Any]]) -> list[Any]:
    """Validate each event with the SDK's own pydantic models (strictly: every field and literal), but the
    extension event, which OpenAI has no model for; check the sequence numbers run 0, 1, 2, ..."""
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return [
        event if event["type"] == AGENT_EVENT else STREAM_EVENT.validate_python(event) for event in events
    ]


def validated_response(body: dict[str, Any]) -> Response:
    """Validate a Response object with the SDK's own model."""
    return Response.model_validate(body)
