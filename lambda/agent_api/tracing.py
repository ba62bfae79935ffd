"""One OpenTelemetry trace per turn, exported before the turn's response ends.

Each request for a turn gets a root span (`RequestTrace`: its route, status, request id, whether it names a
session, the error it ended with), a child of the caller's span when it sends a W3C ``traceparent`` header,
else, with traces to CloudWatch, of the function's X-Ray trace (`_xray_parent`). Strands' own spans
(``invoke_agent``, ``chat``, ``execute_tool``) and the provider's attributes on them run in its context, so
they land beneath it. Every span that starts in that context is kept for its request (`_Router`), not for the
process: at the request's end (`RequestTrace.finish`, which `agent_api.trace_requests` calls before the
response's last message) exactly its spans are handed to the export thread (`agent_api.trace_export`), and
the end waits for them at most ``contract.TRACE_EXPORT_BUDGET_SECONDS``. So nothing is left buffered when
Lambda freezes the function after the response, a slow or unreachable collector costs a turn at most that
long, and an export never fails one. Nothing is exported while the turn streams: its first token waits for
none of it. The code answering a request notes what it knows on its root span through `current_request()`.

Strands no longer flushes its spans itself; it only needs OpenTelemetry's global tracer provider, which the
first app with traces on installs (`_install`); with traces off, none is installed and Strands' spans cost
nothing. The standard variables apply: ``OTEL_SDK_DISABLED``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` (a caller's unsampled ``traceparent`` is honoured:
``parentbased_always_on`` is the default), ``OTEL_SEMCONV_STABILITY_OPT_IN`` (Strands' conventions) and the
exporter's own (agent_api.trace_export).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from opentelemetry import context, trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agent_api import contract
from agent_api.observability import logger
from agent_api.trace_export import SpanShipper, cloudwatch_exporter, otlp_exporter, without_content

if TYPE_CHECKING:
    import boto3

    from agent_api.settings import Settings

# A request's spans beyond this many are dropped (a runaway agent loop must not grow without bound).
MAX_SPANS_PER_REQUEST: Final = 4096
_TURN: Final = context.create_key("agent_api.turn_spans")
_CURRENT: ContextVar[RequestTrace | None] = ContextVar("agent_api.request_trace", default=None)
_W3C: Final = TraceContextTextMapPropagator()
# The X-Ray trace header the Lambda Web Adapter forwards (its ids: see _xray_parent).
XRAY_HEADER: Final = "x-amzn-trace-id"
_XRAY_ROOT: Final = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
_XRAY_PARENT: Final = re.compile(r"[0-9a-f]{16}")


class TurnSpans:
    """The spans of one request: those started in its context, kept as they end until it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended: list[ReadableSpan] = []
        self._closed = False
        self.dropped = 0

    def take(self) -> list[ReadableSpan]:
        """Return the spans that ended, and keep no more: a span ending later belongs to no export."""
        with self._lock:
            self._closed = True
            ended, self._ended = self._ended, []
            return ended

    def add(self, span: ReadableSpan) -> None:
        """Keep a span that ended (unless the request has ended too, or holds the most it may)."""
        with self._lock:
            if self._closed:
                return
            if len(self._ended) >= MAX_SPANS_PER_REQUEST:
                self.dropped += 1
                return
            self._ended.append(span)


class _Router(SpanProcessor):
    """Gives each span that starts in a request's context to that request's `TurnSpans` when it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[tuple[int, int], TurnSpans] = {}

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        """Note the request whose context ``span`` starts in, if any."""
        owner = context.get_value(_TURN, parent_context)
        if isinstance(owner, TurnSpans) and span.context is not None:
            with self._lock:
                self._owners[(span.context.trace_id, span.context.span_id)] = owner

    def on_end(self, span: ReadableSpan) -> None:
        """Hand ``span`` to its request."""
        if span.context is None:
            return
        with self._lock:
            owner = self._owners.pop((span.context.trace_id, span.context.span_id), None)
        if owner is not None:
            owner.add(span)

    def forget(self, spans: TurnSpans) -> None:
        """Drop what is still noted for ``spans``'s request (spans it started that never ended)."""
        with self._lock:
            for key in [key for key, owner in self._owners.items() if owner is spans]:
                del self._owners[key]


_installed: _Router | None = None
_install_lock = threading.Lock()


def _install(service_name: str) -> _Router | None:
    """Install the global tracer provider (once per process) with the router; None if another one holds."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            # The standard variables win over the service's own name (Resource.create would do the opposite).
            resource = Resource.create({"service.name": service_name, **_lambda_resource()}).merge(
                OTELResourceDetector().detect()
            )
            trace.set_tracer_provider(TracerProvider(resource=resource))
            provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            logger.error(
                "traces are off: another OpenTelemetry tracer provider is installed",
                extra={"provider": type(provider).__name__},
            )
            return None
        _installed = _Router()
        provider.add_span_processor(_installed)
        return _installed


def _log_exports_as_json() -> None:
    """Write the OTLP exporter's own warnings (why an export failed) as the app's JSON log lines."""
    exporter_logs = logging.getLogger("opentelemetry.exporter")
    if logger.registered_handler not in exporter_logs.handlers:
        exporter_logs.addHandler(logger.registered_handler)
        exporter_logs.propagate = False


def _lambda_resource() -> dict[str, str]:
    """Return the function's resource attributes (OpenTelemetry's cloud and FaaS conventions) in Lambda."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not function:
        return {}
    return {
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "cloud.region": os.environ.get("AWS_REGION", ""),
        "faas.name": function,
        "faas.version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", ""),
    }


class Tracing:
    """How this process traces its turns: not at all (`off`), or to the settings' destination."""

    def __init__(
        self,
        router: _Router | None,
        shipper: SpanShipper | None,
        *,
        capture_content: bool,
        join_xray: bool = False,
    ) -> None:
        self._router = router
        self._shipper = shipper
        self._capture_content = capture_content
        self._join_xray = join_xray
        self._tracer = trace.get_tracer("agent_api") if router is not None else None

    @classmethod
    def off(cls) -> Tracing:
        """No traces."""
        return cls(None, None, capture_content=False)

    @classmethod
    def from_settings(cls, settings: Settings, session: boto3.Session) -> Tracing:
        """Trace as the settings say (``AGENT_TRACES``); ``OTEL_SDK_DISABLED=true`` turns traces off."""
        if settings.traces == contract.TRACES_OFF:
            return cls.off()
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            logger.info("traces are off: OTEL_SDK_DISABLED is true")
            return cls.off()
        region = settings.region or session.region_name
        timeout = contract.TRACE_EXPORT_TIMEOUT_SECONDS
        if settings.traces == contract.TRACES_CLOUDWATCH:
            if region is None:
                raise ValueError("traces to CloudWatch need a region (AGENT_REGION or AWS_REGION)")
            make = cloudwatch_exporter(session, region, timeout)
        else:
            secret = settings.otlp_headers_secret
            make = otlp_exporter(settings.otlp_endpoint, secret, session, region, timeout)
        router = _install(settings.service_name)
        if router is None:
            return cls.off()
        _log_exports_as_json()
        return cls(
            router,
            SpanShipper(make),
            capture_content=settings.capture_content,
            join_xray=settings.traces == contract.TRACES_CLOUDWATCH,
        )

    @property
    def enabled(self) -> bool:
        """Whether turns are traced."""
        return self._tracer is not None

    def request(self, method: str, route: str, headers: Mapping[str, str]) -> RequestTrace:
        """Start a request's root span, a child of the caller's ``traceparent`` if it sent a valid one."""
        if self._tracer is None:
            return RequestTrace(None, None, None, self)
        spans = TurnSpans()
        parent = _W3C.extract(headers)
        if self._join_xray and not trace.get_current_span(parent).get_span_context().is_valid:
            parent = _xray_parent(headers.get(XRAY_HEADER, ""))
        started = context.set_value(_TURN, spans, parent)
        span = self._tracer.start_span(
            f"{method} {route}",
            context=started,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route},
        )
        return RequestTrace(span, spans, trace.set_span_in_context(span, started), self)

    async def export(self, spans: TurnSpans, trace_id: str) -> None:
        """Export a request's spans, waiting at most the budget; never raises but for a cancellation."""
        assert self._router is not None and self._shipper is not None
        self._router.forget(spans)
        ended = spans.take()
        if spans.dropped:
            logger.warning("spans dropped from a long turn's trace", extra={"dropped": spans.dropped})
        batch = ended if self._capture_content else [without_content(span) for span in ended]
        waiting = asyncio.wrap_future(self._shipper.ship(batch))
        # asyncio.wait, unlike wait_for, leaves the export running when the budget runs out.
        done, _ = await asyncio.wait({waiting}, timeout=contract.TRACE_EXPORT_BUDGET_SECONDS)
        if not done:
            logger.warning(
                "the turn's trace was not exported in time; the turn did not wait for it",
                extra={"trace_id": trace_id, "spans": len(batch)},
            )
        elif not waiting.result():
            logger.warning(
                "the turn's trace was not exported", extra={"trace_id": trace_id, "spans": len(batch)}
            )


class RequestTrace:
    """The root span of one request (nothing when traces are off)."""

    def __init__(
        self,
        span: trace.Span | None,
        spans: TurnSpans | None,
        active: context.Context | None,
        tracing: Tracing,
    ) -> None:
        self._span = span
        self._spans = spans
        self._active = active
        self._tracing = tracing
        self._finished = False

    @property
    def trace_id(self) -> str | None:
        """The trace's id as 32 hex digits (W3C), None when traces are off."""
        if self._span is None:
            return None
        return trace.format_trace_id(self._span.get_span_context().trace_id)

    def set_request_id(self, request_id: str) -> None:
        """Name the request as its ``x-request-id`` header and its log lines do."""
        self._set("agent_api.request_id", request_id)

    def set_session(self, present: bool) -> None:
        """Say whether the request continues a stored session."""
        self._set("agent_api.session.present", present)

    def set_status(self, status: int) -> None:
        """Record the response's HTTP status (5xx marks the request as failed)."""
        self._set("http.response.status_code", status)
        if status >= 500 and self._span is not None:
            self._span.set_status(Status(StatusCode.ERROR))

    def note_error(self, code: str, server_fault: bool) -> None:
        """Record the error the turn ended with (its code); a fault of the server marks it as failed."""
        self._set("error.type", code)
        if server_fault and self._span is not None:
            self._span.set_status(Status(StatusCode.ERROR, code))

    def note_model_wait(self, seconds: float) -> None:
        """Record how long the turn waited for a copy of a model scaled to zero."""
        self._set("agent_api.model_wait_seconds", round(seconds, 3))

    def note_fallback(self, model: str) -> None:
        """Record that the fallback model answered the turn (agent_api.fallback), and which."""
        self._set("agent_api.fallback_model", model)

    def _set(self, name: str, value: str | bool | int | float) -> None:
        if self._span is not None:
            self._span.set_attribute(name, value)

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """Make the root span current: tasks and threads started meanwhile (the turn) run beneath it."""
        if self._active is None:
            yield
            return
        token = context.attach(self._active)
        current = _CURRENT.set(self)
        try:
            yield
        finally:
            _CURRENT.reset(current)
            context.detach(token)

    async def finish(self) -> None:
        """End the root span and export the request's spans, waiting at most the budget (once)."""
        if self._span is None or self._spans is None or self._finished:
            return
        self._finished = True
        self._span.end()
        trace_id = self.trace_id
        assert trace_id is not None
        await self._tracing.export(self._spans, trace_id)


def _xray_parent(header: str) -> context.Context:
    """Return the context of an X-Ray trace header's parent (``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>``).

    X-Ray's ids are W3C's: the trace id is the root's two hex parts together, the parent the span id
    (CloudWatch's OTLP endpoint takes W3C trace ids). The Lambda Web Adapter passes the invocation's header on
    as ``x-amzn-trace-id`` when the function is traced by X-Ray, so a turn joins the trace of API Gateway and
    Lambda. A header without both ids starts a trace of its own.
    """
    fields = dict(part.strip().partition("=")[::2] for part in header.split(";") if "=" in part)
    root = _XRAY_ROOT.fullmatch(fields.get("Root", ""))
    parent = fields.get("Parent", "")
    if root is None or _XRAY_PARENT.fullmatch(parent) is None:
        return context.Context()
    flags = TraceFlags(TraceFlags.SAMPLED if fields.get("Sampled") == "1" else TraceFlags.DEFAULT)
    caller = SpanContext(int(root[1] + root[2], 16), int(parent, 16), is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(caller))


def current_request() -> RequestTrace:
    """Return the trace of the request being answered (tasks and threads it started included).

    Outside a traced request (traces off, or a route that is no turn's) it is one that records nothing, so
    the code of a turn notes what it knows without asking whether anyone listens.
    """
    return _CURRENT.get() or _UNTRACED


_UNTRACED: Final = RequestTrace(None, None, None, Tracing.off())
