"""A SageMaker runtime for tests: the project's emulator (``local.emulator``) before a scripted container.

Tests script what each model call gets: a container reply (``Stream``, ``ModelError`` or any ``Reply``), or
``Throttle`` (the emulator's throttling fault, so the call never reaches the container). Everything else a
real endpoint does (event-stream frames, error shapes, validation, stream error events, split parts, delays)
is the emulator's: set its ``Faults`` with ``runtime.emulator.set_faults``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config

from local.emulator import Emulator, Endpoint, Invocation
from tests.support.scripted_server import Reply, ScriptedServer

ENDPOINT = "test-endpoint"
"""The endpoint name the runtime serves (the agent API tests' settings name it too)."""

_EVERY_LATER_REQUEST = 1_000_000


class Stream(Reply):
    """The container streams ``parts`` as Server-Sent Events, one chunk (so one ``PayloadPart``) each.

    With ``pause_after``, it holds after that many parts until ``resume`` is set; ``finished`` is set once
    it has sent everything.
    """

    def __init__(self, parts: list[bytes], *, pause_after: int | None = None) -> None:
        super().__init__(chunks=list(parts), content_type="text/event-stream", pause_after=pause_after)


class ModelError(Reply):
    """The container answers ``status`` with ``body``: SageMaker then answers 424 ``ModelError`` carrying
    them as ``OriginalStatusCode`` and ``OriginalMessage``."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(chunks=[body.encode()], status=status, chunked=False)


@dataclass(frozen=True)
class Throttle:
    """The emulator answers ``ThrottlingException``; the call never reaches the container."""


Step = Reply | Throttle


def sagemaker_client(url: str, **config: Any) -> Any:
    """A real boto3 ``sagemaker-runtime`` client for ``url`` with dummy credentials; it does not retry
    unless ``config`` says so, so every error reaches the test."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**{"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}),
    )


def sagemaker_control_client(url: str) -> Any:
    """A real boto3 ``sagemaker`` (control-plane) client for ``url`` (the emulator's inference-component
    calls); it does not retry."""
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def collect_stream(response: dict[str, Any]) -> list[bytes]:
    """The ``PayloadPart`` bytes of a response stream, as botocore parsed them."""
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]


class SageMakerRuntime:
    """The emulator serving ``endpoint_name`` in front of a ``ScriptedServer`` container; a context manager.

    Its ``inference_components`` start with ``component_copies`` copies (0: scaled to zero) and copies asked
    for come into service after ``warm_up_seconds``. ``more_endpoints`` (endpoint name -> its components) are
    served by the same container, their components in service from the start whatever ``component_copies``
    says (a fallback endpoint beside a model at zero); the script answers their calls in turn with the rest.

    ``requests`` records every request the emulator received (throttled ones included), in order.
    """

    def __init__(
        self,
        *steps: Step,
        endpoint_name: str = ENDPOINT,
        inference_components: tuple[str, ...] = (),
        backend_timeout: float = 60.0,
        component_copies: int = 1,
        warm_up_seconds: float = 0.0,
        more_endpoints: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.requests: list[Invocation] = []
        self.container = ScriptedServer()
        endpoints = {
            name: Endpoint(
                self.container.url,
                inference_components=components,
                component_copies=1 if components else None,
            )
            for name, components in (more_endpoints or {}).items()
        }
        self.emulator = Emulator(
            {
                endpoint_name: Endpoint(self.container.url, inference_components=inference_components),
                **endpoints,
            },
            backend_timeout=backend_timeout,
            on_invocation=self.requests.append,
            component_copies=component_copies,
            warm_up_seconds=warm_up_seconds,
        )
        if steps:
            self.script(*steps)

    @property
    def url(self) -> str:
        """The emulator's URL: boto3's ``endpoint_url`` or ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``."""
        return self.emulator.url

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies of ``requests``."""
        return [json.loads(request.body) for request in self.requests]

    def client(self, **config: Any) -> Any:
        return sagemaker_client(self.url, **config)

    def control_client(self) -> Any:
        """A ``sagemaker`` client for the emulator's inference-component calls."""
        return sagemaker_control_client(self.url)

    def script(self, *steps: Step) -> None:
        """Answer the next calls with ``steps`` in order (the last one repeats).

        The ``Throttle`` steps must stand together: the calls before them reach the container, and the
        calls after them too unless the throttles end the script. The other faults set are kept.
        """
        throttles = [index for index, step in enumerate(steps) if isinstance(step, Throttle)]
        if throttles and throttles != list(range(throttles[0], throttles[-1] + 1)):
            raise ValueError(f"the Throttle steps must stand together, got {steps}")
        replies = [step for step in steps if isinstance(step, Reply)]
        if replies:
            self.container.script = replies
        after, count = 0, 0
        if throttles:
            after = throttles[0]
            count = _EVERY_LATER_REQUEST if throttles[-1] == len(steps) - 1 else len(throttles)
        self.emulator.set_faults(
            replace(self.emulator.faults, throttle_after_requests=after, throttle_requests=count)
        )

    def __enter__(self) -> Self:
        self.container.start()
        self.emulator.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # The container first: it releases every paused reply, so no emulator thread waits on one.
        self.container.stop()
        self.emulator.stop()
