"""Strands' spans name the model: its ``model_id``, else the endpoint (and inference component) it serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strands import Agent

from sagemaker_provider import SageMakerModel
from tests.provider.helpers import FIXTURES, model_on
from tests.support.sagemaker_runtime import SageMakerRuntime, Stream


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
