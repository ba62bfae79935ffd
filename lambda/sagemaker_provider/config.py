"""Typed, validated configuration of :class:`sagemaker_provider.SageMakerModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from .chat_templates import ChatTemplate
from .text_tool_calls import SYNTAXES, TextToolCallSyntax

if TYPE_CHECKING:
    from strands.models.model import CacheConfig


class SageMakerConfig(TypedDict, total=False):
    """Configuration keys of the provider (``endpoint_name`` is required).

    Attributes:
        endpoint_name: The SageMaker endpoint to invoke.
        region_name: Its region; unset means boto3's default chain.
        endpoint_url: A SageMaker runtime URL to call instead of AWS's
            (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` works too, through botocore).
        response_format: A registered format name: ``auto``, ``openai-chat``, ``tgi``, ``lmi`` or yours.
        params: Generation parameters in OpenAI names (``max_tokens``, ``temperature``, ``top_p``,
            ``stop``...).
        stream: Stream the response (``invoke_endpoint_with_response_stream``); false uses
            ``invoke_endpoint``.
        model: The ``model`` field of chat requests, for servers that need one.
        inference_component_name: Inference component to invoke.
        target_variant: Production variant to invoke.
        target_model: Model of a multi-model endpoint to invoke.
        custom_attributes: SageMaker ``CustomAttributes`` header.
        additional_request_fields: Extra top-level request body fields, sent as given.
        tool_results_as_user_text: Send tool results as user text, for servers without a ``tool`` role.
        text_tool_calls: The tool-call syntax of the model family, to read tool calls a chat server left
            in the answer's text when tools were offered: ``"llama3_json"`` (Llama 3.x JSON),
            ``"hermes"`` (Hermes/Qwen ``<tool_call>``) or ``"mistral"`` (``[TOOL_CALLS]``); ``False``
            (the default): calls are read only from the server's ``tool_calls``. Only that one syntax is
            looked for, so an example of another written in prose stays text.
        chat_template: Renders prompts for the native ``tgi``/``lmi`` formats (default: Llama 3.1's).
        context_window_limit: The model's context window in tokens (Strands' ``BaseModelConfig``).
        model_id: The model's name, as Strands' built-in providers take it (its tracing reads it); sent
            nowhere (``model`` is the request field).
        cache_config: Strands' ``CacheConfig``, accepted as its built-in providers accept it. Nothing is sent:
            vLLM and SGLang cache prompt prefixes on their own, with no cache points in the request.

    """

    endpoint_name: str
    region_name: str | None
    endpoint_url: str | None
    response_format: str
    params: dict[str, Any] | None
    stream: bool
    model: str | None
    inference_component_name: str | None
    target_variant: str | None
    target_model: str | None
    custom_attributes: str | None
    additional_request_fields: dict[str, Any] | None
    tool_results_as_user_text: bool
    text_tool_calls: TextToolCallSyntax | Literal[False]
    chat_template: ChatTemplate | None
    context_window_limit: int | None
    model_id: str | None
    cache_config: CacheConfig | None


_OPTIONAL_STRINGS = (
    "region_name",
    "endpoint_url",
    "model",
    "inference_component_name",
    "target_variant",
    "target_model",
    "custom_attributes",
    "model_id",
)
_KNOWN_KEYS = frozenset(SageMakerConfig.__annotations__)


def validate_config(config: Mapping[str, Any], *, partial: bool = False) -> None:
    """Check every key and value of a configuration, without creating a client or calling AWS.

    :class:`~sagemaker_provider.SageMakerModel` calls it on construction, so calling it first tells whether a
    configuration is valid before anything is built. ``partial`` checks only the keys given (an update).

    Raises:
        ValueError: Missing ``endpoint_name``, unknown key or invalid value; the message names the key.

    """
    if not partial and "endpoint_name" not in config:
        raise ValueError("missing config 'endpoint_name': the SageMaker endpoint to invoke")
    unknown = sorted(set(config) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(_KNOWN_KEYS))}"
        )
    if "endpoint_name" in config:
        _require(
            isinstance(config["endpoint_name"], str) and config["endpoint_name"].strip() != "",
            "endpoint_name",
            "must be a non-empty string",
        )
    for key in _OPTIONAL_STRINGS:
        if config.get(key) is not None:
            _require(isinstance(config[key], str) and config[key] != "", key, "must be a non-empty string")
    if "response_format" in config:
        from .formats import get_format

        _require(isinstance(config["response_format"], str), "response_format", "must be a string")
        try:
            get_format(config["response_format"])
        except ValueError as error:
            raise ValueError(f"invalid config 'response_format': {error}") from None
    for key in ("params", "additional_request_fields"):
        value = config.get(key)
        if value is not None:
            _require(
                isinstance(value, dict) and all(isinstance(k, str) for k in value),
                key,
                "must be a dict with string keys",
            )
    if config.get("params"):
        _validate_params(config["params"])
    for key in ("stream", "tool_results_as_user_text"):
        if key in config:
            _require(isinstance(config[key], bool), key, "must be true or false")
    if "text_tool_calls" in config:
        value = config["text_tool_calls"]
        _require(
            value is False or (isinstance(value, str) and value in SYNTAXES),
            "text_tool_calls",
            f"must be the tool-call syntax of the model family ({', '.join(map(repr, SYNTAXES))}) or false, "
            f"got {value!r}",
        )
    if config.get("chat_template") is not None:
        _require(
            isinstance(config["chat_template"], ChatTemplate),
            "chat_template",
            "must have a render(messages, system_prompt) method",
        )
    if config.get("cache_config") is not None:
        # Imported here: the formats and `replay` validate configurations without loading Strands.
        from strands.models.model import CacheConfig

        _require(
            isinstance(config["cache_config"], CacheConfig), "cache_config", "must be a strands CacheConfig"
        )
    limit = config.get("context_window_limit")
    if limit is not None:
        _require(type(limit) is int and limit > 0, "context_window_limit", "must be a positive integer")


def _validate_params(params: dict[str, Any]) -> None:
    if "max_tokens" in params:
        value = params["max_tokens"]
        _require(type(value) is int and value > 0, "params.max_tokens", "must be a positive integer")
    for key in ("temperature", "top_p"):
        if key in params:
            value = params[key]
            _require(
                isinstance(value, int | float) and not isinstance(value, bool) and value >= 0,
                f"params.{key}",
                "must be a number >= 0",
            )
    if "stream" in params:
        raise ValueError("invalid config 'params.stream': set the 'stream' config key instead")


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ValueError(f"invalid config {key!r}: {message}")
