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
from typing import TYPE_CHECKING, Any, ClassVar

from ..chat_templates import ChatTemplate, Llama31ChatTemplate, ToolCallingChatTemplate
from ..errors import MalformedChunkError, StreamTruncatedError
from ..events import EventBuilder
from ..framing import DONE, ErrorEvent
from ..text_tool_calls import TemplateSyntax, TextToolCalls
from .base import ChunkInterpreter, ModelRequest, ResponseFormat, raise_error_event, raise_error_object

if TYPE_CHECKING:
    from strands.types.tools import ToolSpec


class NativeInterpreter(ChunkInterpreter):
    """Interprets TGI / LMI token events and ``generated_text`` bodies.

    Args:
        format_name: The format named in errors.
        tool_calls: When tools were offered, reads tool calls from the answer in the chat template's syntax
            (in place of the ``text_tool_calls`` setting, which names a chat server's syntax): an answer that
            starts like a tool call is held back and emitted as tool calls (or, if it is not one after all,
            as text) once complete; any other answer streams as text.

    """

    def __init__(self, format_name: str, tool_calls: TextToolCalls | None = None) -> None:
        self._name = format_name
        self._ended = False
        self._tokens = False
        self._tool_calls = tool_calls
        self._started = False

    def handle(self, payload: Any, events: EventBuilder) -> None:
        """Interpret one token event, final event or body."""
        if not self._started:
            self._started = True
            events.read_tool_calls_with(self._tool_calls)
        if isinstance(payload, dict):
            self._object(payload, events)
        elif isinstance(payload, list):
            for item in payload:
                if not isinstance(item, dict):
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
            if not isinstance(token, dict) or not isinstance(token.get("text", ""), str):
                raise MalformedChunkError(self._name, json.dumps(payload).encode(), "'token' has no text")
            self._tokens = True
            text = token.get("text")
            if text and not token.get("special"):
                events.text(text)
        generated = payload.get("generated_text")
        if generated is not None:
            if not isinstance(generated, str):
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
        if isinstance(details, dict):
            reason = details.get("finish_reason")
            if isinstance(reason, str):
                events.finish(reason)
            events.usage(details.get("input_length"), details.get("generated_tokens"))


def _apply_tool_choice(request: ModelRequest) -> tuple[list[ToolSpec] | None, str | None]:
    """Return the tools to describe and the system prompt, with the request's tool choice written in."""
    choice: Any = request.tool_choice
    if not request.tool_specs or not choice or "auto" in choice:
        return request.tool_specs, request.system_prompt
    tool_specs = request.tool_specs
    if "tool" in choice:
        name = choice["tool"]["name"]
        tool_specs = [spec for spec in request.tool_specs if spec["name"] == name]
        if not tool_specs:
            offered = ", ".join(spec["name"] for spec in request.tool_specs)
            raise ValueError(
                f"tool_choice names the tool {name!r}, which is not offered (offered: {offered})"
            )
        instruction = f"You must answer with a call to the {name} tool."
    elif "any" in choice:
        instruction = "You must answer with a call to one of the tools."
    else:
        raise ValueError(f"unsupported tool_choice {choice!r}: expected 'auto', 'any' or 'tool'")
    system_prompt = f"{request.system_prompt}\n\n{instruction}" if request.system_prompt else instruction
    return tool_specs, system_prompt


class NativeFormat(ResponseFormat):
    """Base of the ``tgi`` and ``lmi`` formats: the prompt request and the token-stream response.

    Args:
        chat_template: Renders the conversation when the request does not bring its own template.

    """

    # OpenAI parameter names → this server's ``parameters`` names.
    parameter_names: ClassVar[dict[str, str]] = {}

    def __init__(self, chat_template: ChatTemplate | None = None) -> None:
        self.chat_template: ChatTemplate = chat_template or Llama31ChatTemplate()

    def build_request(self, request: ModelRequest) -> dict[str, Any]:
        """Build ``{"inputs": prompt, "parameters": {...}, "stream": ...}``.

        A prompt API has no ``tool_choice`` field, so the choice is made in the prompt: ``{"tool": {"name":
        ...}}`` offers only that tool and the system prompt says the answer must call it; ``{"any": {}}`` says
        the answer must call one of the tools. The model is asked, not constrained: an answer without a call
        still comes back as text.

        Raises:
            ValueError: Tools were offered but the chat template cannot read tool calls back, or the forced
                tool is not among them.

        """
        template = self._template(request)
        if request.tool_specs and not isinstance(template, ToolCallingChatTemplate):
            raise ValueError(
                f"response_format {self.name!r} cannot offer tools with chat template "
                f"{type(template).__name__}: it has no parse_tool_calls/tool_call_prefixes (use "
                "Llama31ChatTemplate, a template that has them, or response_format 'openai-chat')"
            )
        parameters = {"details": True, **self.parameters(request.params)}
        tool_specs, system_prompt = _apply_tool_choice(request)
        body: dict[str, Any] = {
            "inputs": template.render(request.messages, system_prompt, tool_specs),
            "parameters": parameters,
            "stream": request.stream,
        }
        body.update(request.additional_request_fields)
        return body

    def parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        """Return the request's ``parameters`` for generation parameters in OpenAI names."""
        return {self.parameter_names.get(key, key): value for key, value in params.items()}

    def new_interpreter(self, request: ModelRequest | None = None) -> ChunkInterpreter:
        """Return a token-stream interpreter (reading tool calls when the request offered tools)."""
        if request is None or not request.tool_specs:
            return NativeInterpreter(self.name)
        template = self._template(request)
        if not isinstance(template, ToolCallingChatTemplate):
            return NativeInterpreter(self.name)
        # Only the tools the prompt describes are offered (a forced tool_choice describes one).
        tool_specs, _ = _apply_tool_choice(request)
        names = [spec["name"] for spec in tool_specs or ()]
        return NativeInterpreter(self.name, TextToolCalls(TemplateSyntax(template), names))

    def accepts(self, payload: Any) -> bool:
        """Recognise a token event or a ``generated_text`` body (TGI: a list of them)."""
        if isinstance(payload, list) and payload:
            payload = payload[0]
        return isinstance(payload, dict) and ("token" in payload or "generated_text" in payload)

    def _template(self, request: ModelRequest) -> ChatTemplate:
        return request.chat_template or self.chat_template


class TgiFormat(NativeFormat):
    """Hugging Face TGI's native ``generate`` / ``generate_stream`` API."""

    name = "tgi"
    parameter_names: ClassVar[dict[str, str]] = {"max_tokens": "max_new_tokens"}

    def parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        """Translate OpenAI sampling values TGI's validation refuses to what they mean there.

        TGI's router (``router/src/validation.rs``) answers 422 "`temperature` must be strictly positive" and
        "`top_p` must be > 0.0 and < 1.0". OpenAI's ``temperature: 0`` asks for greedy decoding, which TGI's
        own chat route sends as no temperature and ``do_sample: false`` (its default); any other temperature
        samples (``do_sample: true``, as that route does). ``top_p: 1`` keeps every token, TGI's default:
        it is left out.

        Raises:
            ValueError: ``top_p`` is 0, which no TGI request can express.

        """
        parameters = super().parameters(params)
        temperature = parameters.pop("temperature", None)
        if temperature:
            parameters["temperature"] = temperature
            parameters.setdefault("do_sample", True)
        top_p = parameters.get("top_p")
        if isinstance(top_p, int | float) and top_p >= 1:
            del parameters["top_p"]
        elif isinstance(top_p, int | float) and top_p <= 0:
            raise ValueError(
                "invalid config 'params.top_p': TGI needs a top_p above 0 (and keeps every token at 1); got "
                f"{top_p}"
            )
        return parameters


class LmiFormat(NativeFormat):
    """DJL LMI's native ``inputs`` API (JSON lines when streamed)."""

    name = "lmi"
    parameter_names: ClassVar[dict[str, str]] = {"max_tokens": "max_new_tokens", "stop": "stop_sequences"}
