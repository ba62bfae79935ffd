"""An OTLP/HTTP traces receiver for tests: a `ScriptedServer` on 127.0.0.1 whose requests are decoded spans.

It answers every export ``200`` with an empty ``ExportTraceServiceResponse`` (or the status a test sets), and
decodes what it received (protobuf ``ExportTraceServiceRequest``, as OpenTelemetry's OTLP/HTTP exporter sends
it) into `ReceivedSpan`s carrying the time their request arrived. `silent_endpoint` is a collector that never
answers: its port accepts connections (the kernel does) and nothing reads them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support.scripted_server import Reply, Request, ScriptedServer

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector received it (ids in hex, attribute values decoded)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    start_ns: int
    end_ns: int
    arrived: float
    """When the export carrying it arrived (``time.monotonic``)."""


class OtlpCollector:
    """Receives OTLP/HTTP trace exports on ``url`` (the base URL; exports go to ``url + TRACES_PATH``)."""

    def __init__(self) -> None:
        self._server = ScriptedServer(Reply([b""], content_type="application/x-protobuf", chunked=False))

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        """The collector's base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return self._server.url

    def answer(self, status: int) -> None:
        """Answer every later export with ``status`` (and an empty body)."""
        self._server.reply = Reply([b""], status=status, content_type="application/x-protobuf", chunked=False)

    @property
    def requests(self) -> list[Request]:
        """Every request received, in order."""
        return list(self._server.received)

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Every span received, in the order they arrived."""
        return [span for request in self.requests for span in decode(request)]

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """The received spans of one trace."""
        return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for_spans(self, count: int, timeout: float = 10) -> list[ReceivedSpan]:
        """Wait until at least ``count`` spans arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(spans := self.spans) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(spans)} spans after {timeout} s, expected {count}")
            time.sleep(0.02)
        return spans


def decode(request: Request) -> list[ReceivedSpan]:
    """Decode one export request (protobuf) into its spans; a request that is not one fails the test."""
    assert request.path == TRACES_PATH, request.path
    content_type = {name.lower(): text for name, text in request.headers.items()}.get("content-type")
    assert content_type == "application/x-protobuf", request.headers
    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(request.body)
    except DecodeError as error:
        raise AssertionError(f"not an ExportTraceServiceRequest: {error}") from error
    spans = []
    for resource_spans in message.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=span.kind,
                        attributes=attributes(span.attributes),
                        events=[(event.name, attributes(event.attributes)) for event in span.events],
                        status_code=span.status.code,
                        status_message=span.status.message,
                        resource=resource,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        arrived=request.arrived,
                    )
                )
    return spans


def attributes(pairs: Any) -> dict[str, Any]:
    """Decode OTLP key-value pairs."""
    return {pair.key: value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def value(any_value: AnyValue) -> Any:
    """Decode one OTLP ``AnyValue``."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    return None if kind is None else getattr(any_value, kind)


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """Yield the base URL of a collector that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        host, port = listener.getsockname()
        yield f"http://{host}:{port}"


def closed_endpoint() -> str:
    """Return the base URL of a port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        host, port = probe.getsockname()
    return f"http://{host}:{port}"
