"""Sending spans: what leaves the process (no content unless kept), to which URL, signed how, with which
headers, and how a slow, failing or misconfigured endpoint is contained."""

from __future__ import annotations

import io
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from agent_api.trace_export import (
    CONTENT_ATTRIBUTES,
    HeadersSecretError,
    SpanShipper,
    cloudwatch_exporter,
    otlp_exporter,
    parse_headers,
    secret_headers,
    without_content,
    xray_traces_url,
)
from tests.agent_api.harness import json_lines
from tests.support.otlp_collector import OtlpCollector, closed_endpoint

REGION = "us-east-1"


def span(name: str = "chat", **attributes: Any) -> ReadableSpan:
    context = SpanContext(
        trace_id=uuid.uuid4().int, span_id=uuid.uuid4().int >> 64, is_remote=False, trace_flags=TraceFlags(1)
    )
    return ReadableSpan(
        name=name,
        context=context,
        attributes=attributes,
        events=[
            Event("gen_ai.user.message", {"content": '[{"text": "my prompt"}]'}),
            Event("exception", {"exception.type": "ValueError"}),
        ],
        start_time=1,
        end_time=2,
    )


def test_without_content_drops_the_conversation_and_keeps_everything_else() -> None:
    original = span(**dict.fromkeys(CONTENT_ATTRIBUTES, "secret words"), **{"gen_ai.usage.input_tokens": 7})
    kept = without_content(original)
    assert dict(kept.attributes or {}) == {"gen_ai.usage.input_tokens": 7}
    assert [event.name for event in kept.events] == ["exception"]
    assert (kept.name, kept.context, kept.start_time, kept.end_time) == (
        original.name,
        original.context,
        original.start_time,
        original.end_time,
    )


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        (
            '{"Authorization": "Basic abc=", "x-honeycomb-team": "k"}',
            {"authorization": "Basic abc=", "x-honeycomb-team": "k"},
        ),
        ("Authorization=Basic%20abc%3D", {"authorization": "Basic abc="}),
        (" api_key = k1 , x-team=t ", {"api_key": "k1", "x-team": "t"}),
    ],
    ids=["json", "otel-encoded", "pairs-with-spaces"],
)
def test_a_secret_holds_headers_as_json_or_as_otel_writes_them(text: str, headers: dict[str, str]) -> None:
    assert parse_headers(text, "team/otlp") == headers


@pytest.mark.parametrize(
    "text",
    ["", "{not json", '{"a": 1}', '["Authorization"]', '{"bad name": "v"}', "no-equals-sign", "=v4lue"],
)
def test_a_secret_of_another_shape_is_refused_without_repeating_its_values(text: str) -> None:
    with pytest.raises(HeadersSecretError, match="team/otlp") as raised:
        parse_headers(text, "team/otlp")
    if text:
        assert text not in str(raised.value)


def test_the_headers_are_read_from_secrets_manager(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    name = f"otlp-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString='{"Authorization": "Bearer t0k"}')
    assert secret_headers(boto3.Session(), REGION, name) == {"authorization": "Bearer t0k"}


def test_export_sends_the_secrets_headers_with_the_standard_ones(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-from-environment=1")
    name = f"otlp-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString="x-api-key=s3cret")
    with OtlpCollector() as collector:
        exporter = otlp_exporter(collector.url, name, boto3.Session(), REGION, 1.0)()
        assert exporter.export([span()]) is SpanExportResult.SUCCESS
        [request] = collector.requests
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert (headers["x-api-key"], headers["x-from-environment"]) == ("s3cret", "1")


def test_the_full_traces_url_of_the_environment_wins_over_the_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with OtlpCollector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.url}/v1/traces")
        exporter = otlp_exporter(closed_endpoint(), None, boto3.Session(), REGION, 1.0)()
        assert exporter.export([span()]) is SpanExportResult.SUCCESS
        assert len(collector.spans) == 1


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us-east-1", "https://xray.us-east-1.amazonaws.com/v1/traces"),
        ("eu-west-3", "https://xray.eu-west-3.amazonaws.com/v1/traces"),
        ("cn-north-1", "https://xray.cn-north-1.amazonaws.com.cn/v1/traces"),
    ],
)
def test_cloudwatch_traces_go_to_xrays_otlp_endpoint_of_the_region(region: str, url: str) -> None:
    assert xray_traces_url(boto3.Session(), region) == url


def test_botocores_endpoint_variable_redirects_the_cloudwatch_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:4318/")
    assert xray_traces_url(boto3.Session(), REGION) == "http://127.0.0.1:4318/v1/traces"


def test_cloudwatch_exports_are_signed_with_sigv4_for_xray_over_the_body_received(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", aws_session_token="token"
    )
    with OtlpCollector() as collector:
        monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", collector.url)
        exporter = cloudwatch_exporter(session, "eu-west-1", 1.0)()
        assert exporter.export([span(), span("execute_tool")]) is SpanExportResult.SUCCESS
        [request] = collector.requests
    headers = {key.lower(): value for key, value in request.headers.items()}
    authorization = headers["authorization"]
    date = headers["x-amz-date"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date[:8]}/eu-west-1/xray/aws4_request"
    )
    assert headers["x-amz-security-token"] == "token"
    # Sign what the collector received again: the same signature means it covers this very body.
    received = AWSRequest(
        method="POST",
        url=f"{collector.url}/v1/traces",
        data=request.body,
        headers={
            "Content-Type": headers["content-type"],
            "X-Amz-Date": date,
            "X-Amz-Security-Token": "token",
        },
    )
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "token"), "xray", "eu-west-1")
    received.context["timestamp"] = date
    expected = signer.signature(signer.string_to_sign(received, signer.canonical_request(received)), received)
    assert authorization.endswith(f"Signature={expected}")


class Recording(SpanExporter):
    """An exporter that records batches, optionally taking ``delay`` seconds over each."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay

    def export(self, spans: Any) -> SpanExportResult:
        time.sleep(self.delay)
        self.batches.append([s.name for s in spans])
        return SpanExportResult.SUCCESS


def test_the_shipper_exports_batches_in_order_in_its_own_thread() -> None:
    recording = Recording()
    threads: list[str] = []

    def make() -> SpanExporter:
        threads.append(threading.current_thread().name)
        return recording

    shipper = SpanShipper(make)
    futures = [shipper.ship([span("a")]), shipper.ship([span("b"), span("c")])]
    assert [future.result(timeout=5) for future in futures] == [True, True]
    assert recording.batches == [["a"], ["b", "c"]]
    assert threads == ["otlp-export"]


def test_an_exporter_that_cannot_be_built_is_tried_again_with_the_next_batch(logs: io.StringIO) -> None:
    attempts: list[int] = []

    def make() -> SpanExporter:
        attempts.append(1)
        if len(attempts) < 3:
            raise HeadersSecretError("the secret 'team/otlp' holds no text (SecretString)")
        return Recording()

    shipper = SpanShipper(make)
    assert shipper.ship([span()]).result(timeout=5) is False
    assert shipper.ship([span()]).result(timeout=5) is True
    failures = [
        line for line in json_lines(logs.getvalue()) if line["message"] == "traces cannot be exported"
    ]
    assert failures and failures[0]["exception"] == "HeadersSecretError"


def test_a_full_backlog_drops_new_batches_at_once(logs: io.StringIO) -> None:
    release = threading.Event()

    class Stuck(Recording):
        def export(self, spans: Any) -> SpanExportResult:
            release.wait(10)
            return super().export(spans)

    shipper = SpanShipper(Stuck, max_backlog=2)
    queued: list[Future[bool]] = [shipper.ship([span()]) for _ in range(4)]
    try:
        dropped = [future for future in queued if future.done()]
        assert dropped and all(future.result() is False for future in dropped)
        assert "the export backlog is full" in logs.getvalue()
    finally:
        release.set()


def test_an_unreachable_endpoint_fails_an_export_within_its_timeout() -> None:
    exporter = otlp_exporter(closed_endpoint(), None, boto3.Session(), REGION, 1.0)()
    assert exporter.export([span()]) is SpanExportResult.FAILURE
