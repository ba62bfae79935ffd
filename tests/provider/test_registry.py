"""Formats are pluggable: a user registers one object and both `auto` and the name find it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sagemaker_provider.errors import StreamTruncatedError
from sagemaker_provider.events import EventBuilder
from sagemaker_provider.formats import (
    ChunkInterpreter,
    ModelRequest,
    ResponseFormat,
    format_names,
    get_format,
    register_format,
    unregister_format,
)
from tests.provider.helpers import parse_parts


class EchoInterpreter(ChunkInterpreter):
    def __init__(self) -> None:
        self.done = False

    def handle(self, payload: Any, events: EventBuilder) -> None:
        events.text(payload["echo"])
        self.done = payload.get("last", False)

    def end(self, events: EventBuilder) -> None:
        if not self.done:
            raise StreamTruncatedError("echo", "no last chunk")


class EchoFormat(ResponseFormat):
    name = "echo"

    def build_request(self, request: ModelRequest) -> dict[str, Any]:
        return {"prompt": request.messages[-1]["content"][0]["text"]}

    def new_interpreter(self, request: ModelRequest | None = None) -> ChunkInterpreter:
        return EchoInterpreter()

    def accepts(self, payload: Any) -> bool:
        return isinstance(payload, dict) and "echo" in payload


@pytest.fixture
def echo() -> Iterator[None]:
    register_format(EchoFormat())
    yield
    unregister_format("echo")


BODY = b'{"echo": "Hel"}\n{"echo": "lo", "last": true}\n'


def test_registered_format_is_selectable_by_name(echo: None) -> None:
    assert "echo" in format_names()
    events = parse_parts([BODY], "echo")
    assert [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e] == [
        "Hel",
        "lo",
    ]


def test_auto_recognises_registered_format(echo: None) -> None:
    assert parse_parts([BODY], "auto") == parse_parts([BODY], "echo")


def test_registering_a_taken_name_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_format(get_format("tgi"))


def test_registering_a_non_format_fails() -> None:
    with pytest.raises(TypeError):
        register_format(object())  # type: ignore[arg-type]


def test_unknown_format_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="openai-chat"):
        get_format("nope")
