"""Native text-generation formats: TGI's ``generate`` and DJL LMI's ``inputs`` API.

Request: ``{"inputs": prompt, "parameters": {...}, "stream": ...}``, the prompt rendered by a chat template.
Response, streamed (SSE or JSON lines) as one ``{"token": {...}}`` object per token, the last one also
carrying ``generated_text`` (and ``details`` when asked for), or not streamed as ``{"generated_text": ...}``
(TGI wraps it in a list). Special tokens (``"special": true``, e.g. ``<|eot_id|>``) are not text.

End marker: the object whose ``generated_text`` is set. Without ``details`` the body has no finish reason
and no token counts: the stop reason is then ``end_turn`` and the usage unknown.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..chat_templates import Llama31ChatTemplate
from ..errors import MalformedChunkError, StreamTruncatedError
from ..events import EventBuilder
from ..framing import DONE, ErrorEvent
from .base import ChatRequest, ChunkInterpreter, ResponseFormat, raise_error_event, raise_error_object

_NATIVE_STOP = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


class NativeInterpreter(ChunkInterpreter):
    """Interprets TGI / LMI token events and ``generated_text`` bodies."""

    __slots__ = ("_ended", "_name", "_tokens")

    def __init__(self, format_name: str) -> None:
        self._name = format_name
        self._ended = False
        self._tokens = False

    def handle(self, payload: Any, events: EventBuilder) -> None:
        """Interpret one token event, final event or body."""
        if type(payload) is dict:
            self._object(payload, events)
        elif type(payload) is list:
            for item in payload:
                if type(item) is not dict:
                    raise MalformedChunkError(
                        self._name, json.dumps(payload).encode(), "list item is not an object"
                    )
                self._object(item, events)
        elif isinstance(payload, ErrorEvent):
            raise_error_event(payload)
        elif payload is not DONE:
            raise MalformedChunkError(self._name, json.dumps(payload).encode(), "expected a JSON object")

    def end(self, events: EventBuilder) -> None:
        """Require the final ``generated_text`` event."""
        if not self._ended:
            raise StreamTruncatedError(self._name, "no final event with generated_text")

    def _object(self, payload: dict[str, Any], events: EventBuilder) -> None:
        token = payload.get("token")
        if token is not None:
            if type(token) is not dict or not isinstance(token.get("text", ""), str):
                raise MalformedChunkError(self._name, json.dumps(payload).encode(), "'token' has no text")
            self._tokens = True
            text = token.get("text")
            if text and not token.get("special"):
                events.text(text)
        generated = payload.get("generated_text")
        if generated is not None:
            if type(generated) is not str:
                raise MalformedChunkError(
                    self._name, json.dumps(payload).encode(), "'generated_text' is not text"
                )
            # In a token stream, generated_text repeats the tokens already emitted.
            if not self._tokens and generated:
                events.text(generated)
            self._ended = True
        elif token is None:
            raise_error_object(payload)
            raise MalformedChunkError(
                self._name, json.dumps(payload).encode(), "neither 'token' nor 'generated_text'"
            )
        details = payload.get("details")
        if type(details) is dict:
            reason = details.get("finish_reason")
            if isinstance(reason, str):
                events.finish(_NATIVE_STOP.get(reason, reason))
            events.usage(details.get("input_length"), details.get("generated_tokens"))


class NativeFormat(ResponseFormat):
    """Base of the ``tgi`` and ``lmi`` formats: the prompt request and the token-stream response.

    Args:
        chat_template: Renders the conversation when the request does not bring its own template.

    """

    # OpenAI parameter names → this server's ``parameters`` names.
    parameter_names: ClassVar[dict[str, str]] = {}

    def __init__(self, chat_template: Any = None) -> None:
        self.chat_template = chat_template or Llama31ChatTemplate()

    def build_request(self, request: ChatRequest) -> dict[str, Any]:
        """Build ``{"inputs": prompt, "parameters": {...}, "stream": ...}``.

        Raises:
            ValueError: Tools were offered: a native prompt request cannot return structured tool calls.

        """
        if request.tool_specs:
            raise ValueError(
                f"response_format {self.name!r} cannot offer tools to the model (the native API returns no "
                "structured tool calls); use response_format 'openai-chat' for an agent with tools"
            )
        template = request.chat_template or self.chat_template
        parameters: dict[str, Any] = {"details": True}
        for key, value in request.params.items():
            parameters[self.parameter_names.get(key, key)] = value
        body: dict[str, Any] = {
            "inputs": template.render(request.messages, request.system_prompt),
            "parameters": parameters,
            "stream": request.stream,
        }
        body.update(request.additional_request_fields)
        return body

    def new_interpreter(self) -> ChunkInterpreter:
        """Return a token-stream interpreter."""
        return NativeInterpreter(self.name)

    def accepts(self, payload: Any) -> bool:
        """Recognise a token event or a ``generated_text`` body (TGI: a list of them)."""
        if type(payload) is list and payload:
            payload = payload[0]
        return isinstance(payload, dict) and ("token" in payload or "generated_text" in payload)


class TgiFormat(NativeFormat):
    """Hugging Face TGI's native ``generate`` / ``generate_stream`` API."""

    name = "tgi"
    parameter_names: ClassVar[dict[str, str]] = {"max_tokens": "max_new_tokens"}


class LmiFormat(NativeFormat):
    """DJL LMI's native ``inputs`` API (JSON lines when streamed)."""

    name = "lmi"
    parameter_names: ClassVar[dict[str, str]] = {"max_tokens": "max_new_tokens", "stop": "stop_sequences"}
