"""A Bedrock runtime for tests: the project's emulator answering Converse and ConverseStream for one model id
from a scripted OpenAI-compatible server.

Tests script what each model call gets from the server behind it: a chat-completions stream (``Stream`` of
SSE parts, e.g. ``fixture_parts("vllm/tools_auto_stream.txt")``) or any ``Reply``. Everything Bedrock does
on top (event-stream frames, error shapes, validation, stream exception events, throttling, delays) is the
emulator's: set its ``Faults`` with ``runtime.emulator.set_faults``.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config

from local.emulator import ConverseCall, ConverseModel, Emulator
from tests.support.scripted_server import Reply, ScriptedServer

MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
"""The model id the runtime answers for (a US cross-region inference profile id, as agents name them)."""


def bedrock_client(url: str, **config: Any) -> Any:
    """A real boto3 ``bedrock-runtime`` client for ``url`` with dummy credentials; it does not retry unless
    ``config`` says so, so every error reaches the test."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**{"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}),
    )


class BedrockRuntime:
    """The emulator answering Converse for ``model_id`` from a ``ScriptedServer``; a context manager.

    ``calls`` records every Converse call the emulator received (throttled and refused ones included), in
    order; ``chat_requests`` the chat-completions bodies the server behind it received.
    """

    def __init__(self, *replies: Reply, model_id: str = MODEL_ID, backend_timeout: float = 60.0) -> None:
        self.model_id = model_id
        self.calls: list[ConverseCall] = []
        self.server = ScriptedServer(*replies)
        self.emulator = Emulator(
            {},
            converse_models={model_id: ConverseModel(self.server.url)},
            on_converse=self.calls.append,
            backend_timeout=backend_timeout,
        )

    @property
    def url(self) -> str:
        """The emulator's URL: boto3's ``endpoint_url`` or ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``."""
        return self.emulator.url

    @property
    def chat_requests(self) -> list[Any]:
        """The JSON bodies of the chat-completions requests the server received."""
        return [json.loads(request.body) for request in self.server.received]

    def client(self, **config: Any) -> Any:
        return bedrock_client(self.url, **config)

    def __enter__(self) -> Self:
        self.server.start()
        self.emulator.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # The server first: it releases every paused reply, so no emulator thread waits on one.
        self.server.stop()
        self.emulator.stop()
