"""What a response format is: how it builds the request body and how it reads the response."""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from ..errors import server_error
from ..events import EventBuilder, new_tool_use_id
from ..framing import ErrorEvent, PayloadReader
from ..text_tool_calls import TextToolCalls, TextToolCallSyntax, syntax_named

if TYPE_CHECKING:
    from strands.types.content import Messages
    from strands.types.streaming import StreamEvent
    from strands.types.tools import ToolChoice, ToolSpec

    from ..chat_templates import ChatTemplate


@dataclass(frozen=True)
class ModelRequest:
    """One call to the model, as the provider hands it to a format: everything needed to build the body.

    A custom format's ``build_request`` and ``new_interpreter`` receive it. It is the provider's view of a
    model call (conversation, tools, generation settings), not the agent API's ``/chat`` request.

    Attributes:
        messages: The Strands conversation.
        tool_specs: Tools offered to the model.
        system_prompt: The system prompt, already joined into one string.
        tool_choice: The agent's tool choice (Strands' form).
        params: Generation parameters in OpenAI names (``max_tokens``, ``temperature``, ``top_p``,
            ``stop``...).
        stream: Whether the response is streamed.
        model: The ``model`` field to send, if the server needs one.
        tool_results_as_user_text: Send tool results as user text, for servers without a ``tool`` role.
        chat_template: Renders the conversation to a prompt, for formats that send a prompt.
        additional_request_fields: Extra top-level body fields, sent as given.
        text_tool_calls: The tool-call syntax of the model family (``"llama3_json"``, ``"hermes"``,
            ``"mistral"``) to read calls a chat server left in the answer's text, when tools were offered;
            ``False``: none.

    """

    messages: Messages
    tool_specs: list[ToolSpec] | None = None
    system_prompt: str | None = None
    tool_choice: ToolChoice | None = None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    model: str | None = None
    tool_results_as_user_text: bool = False
    chat_template: ChatTemplate | None = None
    additional_request_fields: dict[str, Any] = field(default_factory=dict)
    text_tool_calls: TextToolCallSyntax | Literal[False] = False


class ChunkInterpreter(abc.ABC):
    """Reads the decoded payloads of one response and reports what they mean to an :class:`EventBuilder`."""

    @abc.abstractmethod
    def handle(self, payload: Any, events: EventBuilder) -> None:
        """Interpret one payload: a decoded JSON value, ``framing.DONE`` or a ``framing.ErrorEvent``.

        Raises:
            MalformedChunkError: The payload does not have this format's shape.
            ModelStreamError: The payload is an error object sent by the server.

        """

    @abc.abstractmethod
    def end(self, events: EventBuilder) -> None:
        """Check, at the end of the body, that the format's end marker was seen.

        Raises:
            StreamTruncatedError: The body stopped before its end marker.

        """

    @property
    def format_read(self) -> str | None:
        """The name of the format it found the response in, when it chooses one (``auto``); else None."""
        return None


class ResponseFormat(abc.ABC):
    """A serving format: the request body it sends and the response it reads.

    Subclass it, give it a unique ``name`` and register one instance with
    :func:`sagemaker_provider.formats.register_format`.
    """

    name: str = ""
    content_type: str = "application/json"
    accept: str = "application/json"

    @abc.abstractmethod
    def build_request(self, request: ModelRequest) -> dict[str, Any]:
        """Return the JSON request body for ``request``."""

    @abc.abstractmethod
    def new_interpreter(self, request: ModelRequest | None = None) -> ChunkInterpreter:
        """Return a fresh interpreter for the response to ``request`` (``None`` when replaying a body)."""

    def accepts(self, payload: Any) -> bool:
        """Tell whether the first payload of a response is in this format (used by ``auto``)."""
        return False


class ResponseParser:
    """Incremental parser of one response body: bytes in, Strands stream events out.

    When a part holds an error (a server error object, a malformed chunk), :meth:`feed` still returns the
    events that came before it in the body, and the error is raised by :meth:`raise_if_failed` or the next
    call, so the caller delivers the partial answer before the error.

    Args:
        response_format: The format of the body.
        new_tool_id: Makes the id of a tool call sent without one.
        request: The request this body answers, when known (a format may read the answer differently
            depending on it, e.g. whether tools were offered).

    """

    def __init__(
        self,
        response_format: ResponseFormat,
        new_tool_id: Callable[[], str] = new_tool_use_id,
        request: ModelRequest | None = None,
    ) -> None:
        self._format_name = response_format.name
        self._reader = PayloadReader(response_format.name)
        text_tool_calls = None
        if request is not None and request.tool_specs and request.text_tool_calls:
            text_tool_calls = TextToolCalls(
                syntax_named(request.text_tool_calls), [spec["name"] for spec in request.tool_specs]
            )
        self._events = EventBuilder(response_format.name, new_tool_id, text_tool_calls)
        self._interpreter = response_format.new_interpreter(request)
        self._error: Exception | None = None

    @property
    def format_name(self) -> str:
        """The format the body is read in: the one given, or the one ``auto`` recognised."""
        return self._interpreter.format_read or self._format_name

    @property
    def text_tool_calls(self) -> int:
        """How many tool calls were read from the answer's text (known once :meth:`finish` returned)."""
        return self._events.text_tool_calls

    def feed(self, data: bytes) -> list[StreamEvent]:
        """Consume one part of the body; return the events it completes (``messageStart`` comes first)."""
        if self._error is not None:
            raise self._error
        try:
            for payload in self._reader.feed(data):
                self._interpreter.handle(payload, self._events)
        except Exception as error:
            self._error = error
        return self._events.take()

    def raise_if_failed(self) -> None:
        """Raise the error met by the last :meth:`feed`, if any."""
        if self._error is not None:
            raise self._error

    def finish(self) -> list[StreamEvent]:
        """Consume the end of the body and return the closing events.

        Raises:
            StreamTruncatedError: The body stopped before its format's end marker.

        """
        if self._error is not None:
            raise self._error
        for payload in self._reader.finish():
            self._interpreter.handle(payload, self._events)
        self._interpreter.end(self._events)
        return self._events.close()


def error_in(payload: Any) -> tuple[str, str | None, int | None] | None:
    """Return ``(message, code, status)`` when ``payload`` is a server's error object, else ``None``.

    Recognises ``{"error": "text", ...}``, ``{"error": {"message": ...}}`` and ``{"object": "error", ...}``.
    ``status`` is the HTTP status the object carries (vLLM/SGLang/OpenAI: an integer ``code``; others:
    ``status``), if any.
    """
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if error is None:
        if payload.get("object") != "error":
            return None
        error = payload
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("type") or error.get("code")
        status = _status(error) or _status(payload)
    else:
        message = error
        code = payload.get("error_type") or payload.get("code")
        status = _status(payload)
    if not isinstance(message, str) or not message:
        message = json.dumps(payload)
    return message, None if code is None else str(code), status


def _status(fields: dict[str, Any]) -> int | None:
    for key in ("code", "status", "status_code"):
        value = fields.get(key)
        if type(value) is int and 100 <= value <= 599:  # an int, not a bool
            return value
    return None


def raise_error_object(payload: Any) -> None:
    """Raise the error a server put in its body; return when ``payload`` is not an error object."""
    found = error_in(payload)
    if found is not None:
        raise server_error(*found)


def raise_error_event(event: ErrorEvent) -> NoReturn:
    """Raise the error carried by an SSE ``event: error`` (JSON error object or plain text)."""
    try:
        found = error_in(json.loads(event.data))
    except ValueError:
        found = None
    raise server_error(*found) if found else server_error(event.data)
