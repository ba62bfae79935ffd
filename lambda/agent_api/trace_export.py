"""Sending a turn's spans over OTLP/HTTP, off the event loop and within a bounded time.

`agent_api.tracing` decides which spans form a turn and when they go; this module sends them: one worker
thread (`SpanShipper`) exports batches in order with OpenTelemetry's OTLP/HTTP exporter (protobuf, which
every backend named in docs/agent-api.md accepts; Arize Phoenix accepts nothing else), built by its first
job so that neither the exporter's imports (about 40 ms: protobuf, requests) nor reading a headers secret
delay the cold start or a turn's first token. Prompts and answers are taken out of the spans here, before
they leave the process, unless the deployment keeps them (`without_content`).

The two destinations (`contract.TRACE_MODES`):

- `cloudwatch`: CloudWatch's OTLP traces endpoint, ``https://xray.<region>.<DNS suffix>/v1/traces`` ("OTLP
  endpoints" in the CloudWatch user guide), each request signed with SigV4 for the service ``xray`` with the
  function's own credentials; botocore's standard ``AWS_ENDPOINT_URL_XRAY`` redirects it.
- `otlp`: any OTLP/HTTP endpoint; OpenTelemetry's own variables apply (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
  ``OTEL_EXPORTER_OTLP_HEADERS``, compression, certificates), and the headers of a Secrets Manager secret
  (API keys) are added to them.

Either way an export gives up after ``contract.TRACE_EXPORT_BUDGET_SECONDS`` (retries included), so the worker
never falls further behind than a turn waits for it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agent_api.contract import OTEL_TRACES_ENDPOINT_VARIABLE
from agent_api.observability import logger

if TYPE_CHECKING:
    import boto3
    import requests

# What Strands puts in spans that is the conversation itself (its Tracer names these its sensitive attributes:
# the messages in and out, the system prompt, a tool's arguments and result). Its span events carry the same
# content under the older conventions (gen_ai.user.message, gen_ai.choice, ...): only `exception` events,
# which say what failed, are kept.
CONTENT_ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
)
KEPT_EVENTS: Final = frozenset({"exception"})
# X-Ray's SigV4 signing name (the OTLP endpoint is the X-Ray service's host).
XRAY_SERVICE: Final = "xray"
XRAY_ENDPOINT_VARIABLE: Final = "AWS_ENDPOINT_URL_XRAY"
TRACES_PATH: Final = "/v1/traces"
# Batches (one per turn) that may wait for the export thread before new ones are dropped.
MAX_BACKLOG: Final = 64
# An HTTP header name (RFC 9110's token), for headers given as `name=value,...`.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def without_content(span: ReadableSpan) -> ReadableSpan:
    """Return ``span`` without the conversation: no content attributes, no events but exceptions."""
    attributes = {
        name: value for name, value in (span.attributes or {}).items() if name not in CONTENT_ATTRIBUTES
    }
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=[event for event in span.events if event.name in KEPT_EVENTS],
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class SpanShipper:
    """Exports batches of spans in one daemon thread, in order; its first job builds the exporter.

    ``make_exporter`` runs in that thread (imports, a secret's headers); if it fails, the failure is logged,
    the batch dropped, and the next batch tries again. While ``max_backlog`` batches wait (an endpoint that
    takes each export's whole timeout, under load), a new batch is dropped at once rather than queued.
    """

    def __init__(self, make_exporter: Callable[[], SpanExporter], max_backlog: int = MAX_BACKLOG) -> None:
        self._make_exporter = make_exporter
        self._max_backlog = max_backlog
        self._exporter: SpanExporter | None = None
        self._jobs: queue.SimpleQueue[tuple[Sequence[ReadableSpan], Future[bool]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="otlp-export", daemon=True)
        self._thread.start()
        # Build the exporter now, while the process has nothing else to do.
        self.ship([])

    def ship(self, spans: Sequence[ReadableSpan]) -> Future[bool]:
        """Queue ``spans`` for export; the future says whether the endpoint took them."""
        done: Future[bool] = Future()
        if self._jobs.qsize() >= self._max_backlog:
            logger.warning("trace dropped: the export backlog is full", extra={"spans": len(spans)})
            done.set_result(False)
        else:
            self._jobs.put((spans, done))
        return done

    def _serve(self) -> None:
        while True:
            spans, done = self._jobs.get()
            try:
                exporter = self._exporter_ready()
                exported = not spans or exporter.export(spans) is SpanExportResult.SUCCESS
            except Exception as error:
                detail = {"exception": type(error).__name__, "detail": str(error)[:500]}
                logger.warning("traces cannot be exported", extra={**detail, "spans": len(spans)})
                exported = False
            done.set_result(exported)

    def _exporter_ready(self) -> SpanExporter:
        if self._exporter is None:
            self._exporter = self._make_exporter()
        return self._exporter


def otlp_exporter(
    endpoint: str | None,
    headers_secret: str | None,
    session: boto3.Session,
    region: str | None,
    timeout: float,
) -> Callable[[], SpanExporter]:
    """Return a maker of the `otlp` exporter: OpenTelemetry's variables, plus the secret's headers if any.

    ``endpoint`` is the base URL (``AGENT_OTLP_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT``); the full
    traces URL of ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` wins over it, as in OpenTelemetry.
    """

    def make() -> SpanExporter:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        traces_url = os.environ.get(OTEL_TRACES_ENDPOINT_VARIABLE) or (
            None if endpoint is None else endpoint.removesuffix("/") + TRACES_PATH
        )
        headers = None if headers_secret is None else secret_headers(session, region, headers_secret)
        return OTLPSpanExporter(endpoint=traces_url, headers=headers, timeout=timeout)

    return make


def cloudwatch_exporter(session: boto3.Session, region: str, timeout: float) -> Callable[[], SpanExporter]:
    """Return a maker of the `cloudwatch` exporter: X-Ray's OTLP endpoint, requests signed with SigV4."""

    def make() -> SpanExporter:
        import requests
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        credentials = session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign the traces for CloudWatch with")
        signed = requests.Session()
        signed.auth = SigV4Auth(credentials, region)
        return OTLPSpanExporter(endpoint=xray_traces_url(session, region), timeout=timeout, session=signed)

    return make


def xray_traces_url(session: boto3.Session, region: str) -> str:
    """Return CloudWatch's OTLP traces URL in ``region`` (``AWS_ENDPOINT_URL_XRAY`` replaces its base)."""
    base = os.environ.get(XRAY_ENDPOINT_VARIABLE)
    if not base:
        partition = session.get_partition_for_region(region)
        suffix = _partition_dns_suffix(partition)
        base = f"https://{XRAY_SERVICE}.{region}.{suffix}"
    return base.removesuffix("/") + TRACES_PATH


def _partition_dns_suffix(partition: str) -> str:
    from botocore.loaders import create_loader

    partitions = create_loader().load_data("partitions")["partitions"]
    return next(str(p["outputs"]["dnsSuffix"]) for p in partitions if p["id"] == partition)


class SigV4Auth:
    """Signs each request of a `requests` session with SigV4 (botocore's signer), as X-Ray requires.

    Only the body's headers are signed beside the host and date: the rest `requests` may still change.
    """

    def __init__(self, credentials: Any, region: str) -> None:
        self._credentials = credentials
        self._region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the signature headers to ``request``."""
        from botocore.auth import SigV4Auth as BotocoreSigV4
        from botocore.awsrequest import AWSRequest

        signed = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("content-type", "content-encoding")
        }
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=signed)
        BotocoreSigV4(self._credentials.get_frozen_credentials(), XRAY_SERVICE, self._region).add_auth(
            aws_request
        )
        request.headers.update(dict(aws_request.headers.items()))
        return request


class HeadersSecretError(ValueError):
    """The headers secret holds neither a JSON object of strings nor ``name=value`` pairs (values unsaid)."""


def secret_headers(session: boto3.Session, region: str | None, secret: str) -> dict[str, str]:
    """Read the headers of every export from Secrets Manager (names lower-cased, as OpenTelemetry does)."""
    from botocore.config import Config

    client = session.client(
        "secretsmanager",
        region_name=region,
        config=Config(
            connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
        ),
    )
    text = client.get_secret_value(SecretId=secret).get("SecretString")
    if not isinstance(text, str):
        raise HeadersSecretError(f"the secret {secret!r} holds no text (SecretString)")
    return parse_headers(text, secret)


def parse_headers(text: str, secret: str) -> dict[str, str]:
    """Parse a secret's headers: a JSON object of strings, or ``name=value,...`` with URL-encoded values."""
    shape = (
        f"the secret {secret!r} must hold a JSON object of header names to strings, or name=value pairs "
        "separated by commas (as OTEL_EXPORTER_OTLP_HEADERS)"
    )
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise HeadersSecretError(f"{shape}; it is not valid JSON") from None
        if not isinstance(value, Mapping) or not all(
            isinstance(name, str) and _HEADER_NAME.fullmatch(name) and isinstance(header, str)
            for name, header in value.items()
        ):
            raise HeadersSecretError(shape)
        return {name.lower(): header for name, header in value.items()}
    headers: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, equals, encoded = pair.partition("=")
        if not equals or not _HEADER_NAME.fullmatch(name.strip()):
            raise HeadersSecretError(shape)
        headers[name.strip().lower()] = urllib.parse.unquote(encoded.strip())
    if not headers:
        raise HeadersSecretError(f"{shape}; it is empty")
    return headers
