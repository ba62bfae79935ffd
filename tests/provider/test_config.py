"""Configuration validation and the model's config API."""

from __future__ import annotations

from typing import Any

import pytest
from strands.models.model import CacheConfig

from sagemaker_provider import SageMakerModel


def _model(**config: Any) -> SageMakerModel:
    return SageMakerModel(client=object(), **config)


def test_defaults_are_auto_and_streaming() -> None:
    config = _model(endpoint_name="e").get_config()
    assert (config["response_format"], config["stream"]) == ("auto", True)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "endpoint_name"),
        ({"endpoint_name": ""}, "endpoint_name"),
        ({"endpoint_name": "e", "response_format": "xml"}, "response_format"),
        ({"endpoint_name": "e", "params": []}, "params"),
        ({"endpoint_name": "e", "params": {"max_tokens": 0}}, "params.max_tokens"),
        ({"endpoint_name": "e", "params": {"temperature": "hot"}}, "params.temperature"),
        ({"endpoint_name": "e", "params": {"stream": False}}, "params.stream"),
        ({"endpoint_name": "e", "stream": "yes"}, "stream"),
        ({"endpoint_name": "e", "region_name": 5}, "region_name"),
        ({"endpoint_name": "e", "chat_template": "llama"}, "chat_template"),
        ({"endpoint_name": "e", "context_window_limit": -1}, "context_window_limit"),
        ({"endpoint_name": "e", "endpoint": "x"}, "endpoint"),
        # text_tool_calls names one family's syntax: true does not say which.
        (
            {"endpoint_name": "e", "text_tool_calls": True},
            "text_tool_calls.*'llama3_json', 'hermes', 'mistral'",
        ),
        ({"endpoint_name": "e", "text_tool_calls": "qwen25"}, "text_tool_calls"),
    ],
)
def test_invalid_config_raises_value_error_naming_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        _model(**config)


def test_update_config_changes_values() -> None:
    model = _model(endpoint_name="e")
    model.update_config(params={"max_tokens": 5}, response_format="openai-chat")
    assert model.get_config()["params"] == {"max_tokens": 5}
    assert model.get_config()["response_format"] == "openai-chat"


def test_update_config_rejects_invalid_value() -> None:
    with pytest.raises(ValueError, match="stream"):
        _model(endpoint_name="e").update_config(stream=1)


def test_context_window_limit_is_exposed_to_strands() -> None:
    assert _model(endpoint_name="e", context_window_limit=2048).context_window_limit == 2048


def test_update_config_of_region_makes_a_new_client() -> None:
    model = SageMakerModel(endpoint_name="e", region_name="us-east-1")
    model.update_config(region_name="eu-west-1")
    assert model.client.meta.region_name == "eu-west-1"


def test_update_config_keeps_a_client_given_by_the_caller() -> None:
    client = object()
    model = SageMakerModel(endpoint_name="e", client=client)
    model.update_config(region_name="eu-west-1")
    assert model.client is client


def test_model_id_and_cache_config_are_accepted_as_strands_providers_accept_them() -> None:
    # Strands' tracing reads `model_id`; `cache_config` is a key of its built-in providers' configs.
    cache = CacheConfig(strategy="auto")
    config = _model(endpoint_name="e", model_id="llama-3.1-8b", cache_config=cache).get_config()
    assert config["model_id"] == "llama-3.1-8b"
    assert config["cache_config"] is cache


@pytest.mark.parametrize(("key", "value"), [("model_id", ""), ("cache_config", "auto")])
def test_model_id_and_cache_config_are_validated(key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=key):
        _model(endpoint_name="e", **{key: value})
