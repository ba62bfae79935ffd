"""Strands' spans name the model (its ``model_id``, else the endpoint and inference component it serves), and
the provider adds what it invoked to each model call's span: endpoint, component, format, SageMaker's request
id and the tool calls it read from the text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strands import Agent

from sagemaker_provider import SageMakerModel, span_attributes
from sagemaker_provider.errors import EndpointInvocationError
from tests.provider.helpers import FIXTURES, model_on
from tests.provider.test_agent import get_weather
from tests.provider.test_text_tool_calls import HERMES, pieces
from tests.support.sagemaker_runtime import ENDPOINT, ModelError, SageMakerRuntime, Stream


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans ended during the test (OpenTelemetry's SDK; the global provider is set once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the provider keeps the processor; a shut exporter takes no more spans


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({}, "test-endpoint"),
        ({"inference_component_name": "ic-1"}, "test-endpoint/ic-1"),
        ({"inference_component_name": "ic-1", "model_id": "llama-3.1-8b"}, "llama-3.1-8b"),
    ],
    ids=["endpoint", "component", "model_id"],
)
def test_agent_and_model_spans_name_the_model(
    spans: InMemorySpanExporter, config: dict[str, Any], name: str
) -> None:
    components = ("ic-1",) if "inference_component_name" in config else ()
    with SageMakerRuntime(inference_components=components) as endpoint:
        endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream.txt").read_bytes()]))
        Agent(model=model_on(endpoint, **config), callback_handler=None)("Hello?")
    named = {span.name: span.attributes.get("gen_ai.request.model") for span in spans.get_finished_spans()}
    assert named["invoke_agent Strands Agents"] == name
    assert named["chat"] == name


def test_the_name_follows_the_endpoint_until_a_model_id_is_set() -> None:
    model = SageMakerModel(endpoint_name="a", client=object())
    model.update_config(endpoint_name="b", inference_component_name="ic")
    assert model.get_config()["model_id"] == "b/ic"
    model.update_config(model_id="mine")
    model.update_config(endpoint_name="c")
    assert model.get_config()["model_id"] == "mine"
    model.update_config(model_id=None)
    assert model.get_config()["model_id"] == "c/ic"


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def chat_spans(spans: InMemorySpanExporter) -> list[Any]:
    return [span for span in spans.get_finished_spans() if span.name == "chat"]


def test_the_model_call_span_names_what_was_invoked_and_the_format_auto_found(
    spans: InMemorySpanExporter,
) -> None:
    with SageMakerRuntime(inference_components=("ic-1",)) as endpoint:
        endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream.txt").read_bytes()]))
        Agent(model=model_on(endpoint, inference_component_name="ic-1"), callback_handler=None)("Hello?")
    [chat] = chat_spans(spans)
    attributes = dict(chat.attributes or {})
    assert attributes[span_attributes.ENDPOINT] == ENDPOINT
    assert attributes[span_attributes.INFERENCE_COMPONENT] == "ic-1"
    assert attributes[span_attributes.RESPONSE_FORMAT] == "openai-chat"  # configured "auto"
    assert attributes[span_attributes.TEXT_TOOL_CALLS] == 0
    assert UUID.fullmatch(str(attributes[span_attributes.REQUEST_ID]))


def test_each_model_call_carries_its_own_sagemaker_request_id(spans: InMemorySpanExporter) -> None:
    with SageMakerRuntime() as endpoint:
        endpoint.script(
            Stream([(FIXTURES / "vllm" / "tools_auto_stream.txt").read_bytes()]),
            Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]),
        )
        Agent(model=model_on(endpoint), tools=[get_weather], callback_handler=None)("Weather in Paris?")
    chats = chat_spans(spans)
    assert len(chats) == 2
    ids = {dict(span.attributes or {}).get(span_attributes.REQUEST_ID) for span in chats}
    assert len(ids) == 2 and all(UUID.fullmatch(str(request_id)) for request_id in ids)
    assert all(span_attributes.INFERENCE_COMPONENT not in (span.attributes or {}) for span in chats)


def test_a_failed_model_call_still_names_sagemakers_request_id(spans: InMemorySpanExporter) -> None:
    with (
        SageMakerRuntime(ModelError(500, '{"error": "boom"}')) as endpoint,
        pytest.raises(EndpointInvocationError),
    ):
        Agent(model=model_on(endpoint), callback_handler=None)("Hello?")
    [chat] = chat_spans(spans)
    assert UUID.fullmatch(str(dict(chat.attributes or {})[span_attributes.REQUEST_ID]))


def test_tool_calls_recovered_from_the_text_are_counted(spans: InMemorySpanExporter) -> None:
    with SageMakerRuntime() as endpoint:
        endpoint.script(
            Stream(pieces(HERMES)),
            Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]),
        )
        model = model_on(endpoint, text_tool_calls="hermes")
        Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Paris?")
    counts = [dict(span.attributes or {})[span_attributes.TEXT_TOOL_CALLS] for span in chat_spans(spans)]
    assert counts == [1, 0]
