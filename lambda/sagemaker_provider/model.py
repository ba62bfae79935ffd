"""The Strands model provider for SageMaker endpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, cast

from pydantic import BaseModel
from strands.models.model import Model
from strands.types.content import Messages, SystemContentBlock
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolChoice, ToolSpec

from . import span_attributes, transport
from .config import SageMakerConfig, validate_config
from .formats import ModelRequest, ResponseParser, get_format

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


class SageMakerModel(Model):
    """A Strands model served by a SageMaker endpoint, read in any registered response format.

    Args:
        boto_session: boto3 session to create the client from (default: a new one).
        client_config: botocore ``Config`` for the client (timeouts, retries...).
        client: A ready ``sagemaker-runtime`` client to use instead of creating one, e.g. one shared by
            every model of a process (``region_name``, ``endpoint_url``, ``boto_session`` and
            ``client_config`` then do not apply).
        **config: :class:`~sagemaker_provider.config.SageMakerConfig` keys; ``endpoint_name`` is required.

    Raises:
        ValueError: Invalid configuration; the message names the key.

    """

    def __init__(
        self,
        *,
        boto_session: boto3.Session | None = None,
        client_config: Config | None = None,
        client: SageMakerRuntimeClient | None = None,
        **config: Unpack[SageMakerConfig],
    ) -> None:
        config.setdefault("response_format", "auto")
        config.setdefault("stream", True)
        validate_config(config)
        self.config = config
        self._model_id_given = config.get("model_id") is not None
        self._name_model()
        self._boto_session = boto_session
        self._client_config = client_config
        self._own_client = client is None
        if client is None:
            self._client = self._create_client()
        else:
            transport.warn_if_retrying(client)
            self._client = client

    @property
    def client(self) -> SageMakerRuntimeClient:
        """The boto3 ``sagemaker-runtime`` client."""
        return self._client

    def update_config(self, **model_config: Unpack[SageMakerConfig]) -> None:  # type: ignore[override]
        """Update configuration keys; a new ``region_name`` or ``endpoint_url`` makes a new client.

        Raises:
            ValueError: Invalid key or value; the message names the key.

        """
        validate_config(model_config, partial=True)
        self.config.update(model_config)
        if "model_id" in model_config:
            self._model_id_given = model_config["model_id"] is not None
        self._name_model()
        if self._own_client and {"region_name", "endpoint_url"} & model_config.keys():
            self._client = self._create_client()

    def _name_model(self) -> None:
        """Without a ``model_id``, name the model after its endpoint (and component), for Strands' spans.

        Strands' tracing names a span's model (``gen_ai.request.model``) from ``config["model_id"]`` only.
        """
        if not self._model_id_given:
            component = self.config.get("inference_component_name")
            endpoint = self.config["endpoint_name"]
            self.config["model_id"] = f"{endpoint}/{component}" if component else endpoint

    def _create_client(self) -> SageMakerRuntimeClient:
        return transport.create_client(
            self.config.get("region_name"),
            self.config.get("endpoint_url"),
            self._boto_session,
            self._client_config,
        )

    def get_config(self) -> SageMakerConfig:
        """Return the configuration."""
        return self.config

    def build_request(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> dict[str, Any]:
        """Return the ``invoke_endpoint*`` keyword arguments for a conversation (body built by the format)."""
        return self._invocation(self._model_request(messages, tool_specs, system_prompt, tool_choice))

    def _model_request(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None,
        system_prompt: str | None,
        tool_choice: ToolChoice | None,
    ) -> ModelRequest:
        config = self.config
        return ModelRequest(
            messages=messages,
            tool_specs=tool_specs,
            system_prompt=system_prompt,
            tool_choice=tool_choice,
            params=dict(config.get("params") or {}),
            stream=config.get("stream", True),
            model=config.get("model"),
            tool_results_as_user_text=config.get("tool_results_as_user_text", False),
            chat_template=config.get("chat_template"),
            additional_request_fields=dict(config.get("additional_request_fields") or {}),
            text_tool_calls=config.get("text_tool_calls", False),
        )

    def _invocation(self, model_request: ModelRequest) -> dict[str, Any]:
        config = self.config
        response_format = get_format(config["response_format"])
        body = response_format.build_request(model_request)
        request: dict[str, Any] = {
            "EndpointName": config["endpoint_name"],
            "Body": json.dumps(body, ensure_ascii=False).encode(),
            "ContentType": response_format.content_type,
            "Accept": response_format.accept,
        }
        for key, name in (
            ("inference_component_name", "InferenceComponentName"),
            ("target_variant", "TargetVariant"),
            ("target_model", "TargetModel"),
            ("custom_attributes", "CustomAttributes"),
        ):
            value = config.get(key)
            if value:
                request[name] = value
        return request

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        *,
        tool_choice: ToolChoice | None = None,
        system_prompt_content: list[SystemContentBlock] | None = None,
        cancel_signal: threading.Event | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Invoke the endpoint and yield Strands stream events as the response arrives.

        Setting ``cancel_signal`` stops reading the response at once (even while the endpoint sends
        nothing) and ends the stream without ``messageStop``, which Strands reports as a cancelled turn.
        Other keyword arguments the agent passes (``invocation_state``, ``agent_metadata``...) are accepted
        and not used.

        Raises:
            ModelThrottledException: SageMaker or the server is throttling.
            ContextWindowOverflowException: The prompt does not fit the model's context.
            ModelStreamError: The server reported an error in the stream.
            StreamTruncatedError: The stream ended before its format's end marker.
            MalformedChunkError: The response is not in the selected format.
            EndpointInvocationError: SageMaker answered with an error.
            EndpointTimeoutError: The endpoint sent nothing within the client's read timeout.
            EndpointConnectionError: The connection broke off mid-answer, or the endpoint is unreachable.

        """
        if system_prompt_content:
            texts = [block["text"] for block in system_prompt_content if "text" in block]
            system_prompt = "\n".join(texts) if texts else system_prompt
        model_request = self._model_request(messages, tool_specs, system_prompt, tool_choice)
        request = self._invocation(model_request)
        parser = ResponseParser(get_format(self.config["response_format"]), request=model_request)
        span_attributes.note_invocation(request, self.config["response_format"])
        logger.debug(
            "endpoint=<%s>, response_format=<%s>, stream=<%s> | invoking endpoint",
            request["EndpointName"],
            self.config["response_format"],
            self.config.get("stream", True),
        )
        started = time.monotonic()
        streamed = self.config.get("stream", True)
        parts = transport.stream_parts(self._client, request, cancel_signal, streamed=streamed)
        # Closing the parts explicitly stops the reader thread as soon as this generator is closed.
        async with contextlib.aclosing(parts):
            async for part in parts:
                if cancel_signal is not None and cancel_signal.is_set():
                    break
                for event in parser.feed(part):
                    yield event
                parser.raise_if_failed()
        if cancel_signal is not None and cancel_signal.is_set():
            # Strands reports a cancelled turn when the stream ends without messageStop.
            return
        events = parser.finish()
        span_attributes.note(
            {
                span_attributes.RESPONSE_FORMAT: parser.format_name,
                span_attributes.TEXT_TOOL_CALLS: parser.text_tool_calls,
            }
        )
        latency_ms = int((time.monotonic() - started) * 1000)
        for event in events:
            if "metadata" in event:
                event["metadata"]["metrics"]["latencyMs"] = latency_ms
            yield event

    async def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Get an ``output_model`` instance by forcing a call to a tool whose input schema is that model.

        Yields:
            The stream's events, then ``{"output": instance}``.

        Raises:
            ValueError: The model answered without calling the tool.

        """
        from strands.event_loop import streaming
        from strands.tools import convert_pydantic_to_tool_spec

        tool_spec = convert_pydantic_to_tool_spec(output_model)
        response = self.stream(
            prompt,
            [tool_spec],
            system_prompt,
            tool_choice=cast(ToolChoice, {"tool": {"name": tool_spec["name"]}}),
            **kwargs,
        )
        stop: Any = None
        async for event in streaming.process_stream(response):
            if "stop" in event:
                stop = event["stop"]
            yield event
        if stop is None:
            raise ValueError("the model stream ended without a final message")
        stop_reason, message, _, _ = stop
        for block in message["content"]:
            tool_use = block.get("toolUse")
            if tool_use and tool_use["name"] == tool_spec["name"]:
                yield {"output": output_model(**tool_use["input"])}
                return
        raise ValueError(
            f"the model did not call the {tool_spec['name']!r} tool (stop reason {stop_reason!r}), "
            "so no structured output was produced"
        )
