"""Tool calls a server left in the answer's text, read back as tool calls, in the syntax of one model family.

A server returns a model's tool call as plain text when it runs without a tool parser (SGLang accepts tools
without one; vLLM with ``tool_choice: "none"``), with the wrong one, or through a prompt API (TGI/LMI native).
When tools were offered, an answer in the syntax of the model family in use becomes tool calls, if every name
in it is the name of an offered tool and every argument set a JSON object (otherwise it stays text, as
written). Only that family's syntax is looked for: a Llama model explaining ``<tool_call>`` in prose, or a
Qwen model showing a JSON example, writes text, not a call. The syntaxes, as vLLM's parsers of the same
names read them (``vllm/tool_parsers/``):

- ``llama3_json``: ``{"name": ..., "parameters": ...}`` (or ``"arguments"``) at the start of the answer,
  with or without ``<|python_tag|>`` before it, several separated by ``;``. vLLM's streaming parser looks
  for a call only when the answer starts with ``<|python_tag|>`` or ``{``, so a tag in the middle of an
  answer is text.
- ``hermes`` (Hermes, Qwen 2.5 / 3): ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, one or
  several, anywhere: the text before the first one is text.
- ``mistral``: ``[TOOL_CALLS][{"name": ..., "arguments": ...}, ...]`` anywhere: the text before it is text.

The native formats read calls with their chat template's syntax instead (:class:`TemplateSyntax`).

While streaming, only text that may still become a call is held back: for ``llama3_json``, whitespace at
the start and an opening ``{`` whose first key may still be ``name`` (or ``type``); for the marker syntaxes,
the end of a chunk that may be the start of the marker; and everything from a call's start on, until the
answer ends. Anything else is released at once, in the chunk it came in. Held text is kept as a list of
pieces, so holding a call costs time linear in its length (``benchmarks/parser_bench.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

if TYPE_CHECKING:
    from .chat_templates import ToolCallingChatTemplate

TextToolCallSyntax = Literal["llama3_json", "hermes", "mistral"]
#: The syntaxes ``text_tool_calls`` may name, each as vLLM's tool parser of that name reads it.
SYNTAXES: Final[tuple[str, ...]] = get_args(TextToolCallSyntax)

PYTHON_TAG: Final = "<|python_tag|>"
HERMES_OPEN: Final = "<tool_call>"
MISTRAL_TOOL_CALLS: Final = "[TOOL_CALLS]"
# Keys a Llama JSON call may open with (Llama 3.2 sometimes writes {"type": "function", "name": ...}).
_FIRST_KEYS: Final = ("name", "type")
_FIRST_KEY = re.compile(r'\{\s*(?:"(?P<key>[^"]*)(?P<closed>")?)?')
_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)

#: What a syntax reads from an answer: the text outside the calls, and each call's name and arguments as
#: written (checked against the offered tools afterwards).
Parsed = tuple[str, list[tuple[Any, Any]]]


class CallSyntax(Protocol):
    """How one family writes tool calls in text: where a call may start, and how to read the calls."""

    #: Starts the calls wherever it appears in the answer; ``None`` when calls may only start the answer.
    marker: str | None

    def starts_call(self, head: str) -> bool | None:
        """Tell from the start of the answer (``head``, leading whitespace removed) whether it is a call.

        ``None``: cannot tell yet (hold ``head`` back). A syntax with a ``marker`` answers ``False``.
        """
        ...

    def parse(self, text: str) -> Parsed | None:
        """Read the calls of ``text`` (from the start of the call on); ``None`` when it is not calls."""
        ...


class Llama3Json:
    """Llama 3.x JSON tool calls, at the start of the answer (vLLM's ``llama3_json`` parser)."""

    marker: str | None = None

    def starts_call(self, head: str) -> bool | None:
        """Start a call with ``<|python_tag|>``, or with ``{`` whose first key may be ``name``/``type``."""
        if head.startswith(PYTHON_TAG):
            return True
        if PYTHON_TAG.startswith(head):
            return None
        if not head.startswith("{"):
            return False
        match = _FIRST_KEY.match(head)
        assert match is not None  # the pattern matches any text that starts with "{"
        key = match.group("key")
        if key is None:
            # Nothing but the brace (and whitespace) yet: undecided; anything else after it: not a call.
            return None if not head[match.end() :].strip() else False
        if match.group("closed"):
            return key in _FIRST_KEYS or False
        return None if any(first.startswith(key) for first in _FIRST_KEYS) else False

    def parse(self, text: str) -> Parsed | None:
        """Read ``;``-separated JSON calls, after an optional ``<|python_tag|>``."""
        values = json_values(text.strip().removeprefix(PYTHON_TAG), separators=";")
        return None if values is None else ("", [_name_and_arguments(value) for value in values])


class Hermes:
    """Hermes / Qwen ``<tool_call>`` blocks, anywhere in the answer (vLLM's ``hermes`` parser)."""

    marker: str | None = HERMES_OPEN

    def starts_call(self, head: str) -> bool | None:
        """Find calls by their marker only."""
        return False

    def parse(self, text: str) -> Parsed | None:
        """Read every ``<tool_call>`` block; the text around them is kept."""
        calls: list[tuple[Any, Any]] = []
        for body in _HERMES_CALL.findall(text):
            values = json_values(body, separators="")
            if values is None or len(values) != 1:
                return None
            calls.append(_name_and_arguments(values[0]))
        return _HERMES_CALL.sub("", text).strip(), calls


class Mistral:
    """Mistral's ``[TOOL_CALLS]`` list, anywhere in the answer (vLLM's ``mistral`` parser, pre-v11)."""

    marker: str | None = MISTRAL_TOOL_CALLS

    def starts_call(self, head: str) -> bool | None:
        """Find calls by their marker only."""
        return False

    def parse(self, text: str) -> Parsed | None:
        """Read the JSON list (or object) after the marker."""
        values = json_values(text.strip().removeprefix(MISTRAL_TOOL_CALLS), separators="")
        if values is None or len(values) != 1:
            return None
        items = values[0] if isinstance(values[0], list) else [values[0]]
        return "", [_name_and_arguments(item) for item in items]


class TemplateSyntax:
    """The tool-call syntax of a native format's chat template: its prefixes start a call at the start.

    Args:
        template: The template that renders the prompt and reads its model's calls back.

    """

    marker: str | None = None

    def __init__(self, template: ToolCallingChatTemplate) -> None:
        self._template = template
        self._prefixes = template.tool_call_prefixes()

    def starts_call(self, head: str) -> bool | None:
        """Start a call with one of the template's prefixes."""
        if any(head.startswith(prefix) for prefix in self._prefixes):
            return True
        return None if any(prefix.startswith(head) for prefix in self._prefixes) else False

    def parse(self, text: str) -> Parsed | None:
        """Read the calls with the template."""
        calls = self._template.parse_tool_calls(text)
        return None if calls is None else ("", list(calls))


_NAMED: Final[dict[str, CallSyntax]] = {"llama3_json": Llama3Json(), "hermes": Hermes(), "mistral": Mistral()}


def syntax_named(name: str) -> CallSyntax:
    """Return the syntax ``text_tool_calls`` names.

    Raises:
        ValueError: Not one of :data:`SYNTAXES`.

    """
    try:
        return _NAMED[name]
    except KeyError:
        expected = ", ".join(SYNTAXES)
        raise ValueError(f"unknown tool-call syntax {name!r}; expected one of {expected}") from None


def checked_call(name: Any, arguments: Any, offered: Collection[str]) -> tuple[str, str] | None:
    """Return ``(name, arguments JSON)`` for a call read from text, or ``None`` if it is not a call.

    A call names an offered tool and its arguments are a JSON object (or a JSON string of one: some models
    write them so); anything else was text that looks like a call, e.g. ``{"name": "Ann", "age": 31}``.
    """
    if not isinstance(name, str) or name not in offered:
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return name, json.dumps(arguments, ensure_ascii=False)


_START, _TEXT, _CALL = "start", "text", "call"


class TextToolCalls:
    """Watches one answer's text for tool calls written in one syntax.

    Args:
        syntax: The syntax of the model family in use.
        tool_names: The names of the tools offered; calls to other names are not calls.

    """

    def __init__(self, syntax: CallSyntax, tool_names: Collection[str]) -> None:
        self._syntax = syntax
        self._marker = syntax.marker
        self._names = frozenset(tool_names)
        # _START: the start of the answer may be a call (held: whitespace and the undecided head);
        # _TEXT: plain text (held: a chunk's end that may begin the marker); _CALL: held to the end.
        self._state = _START
        self._held: list[str] = []

    def feed(self, text: str) -> str:
        """Take the next piece of the answer's text; return the text that is certainly not part of a call."""
        if self._state == _TEXT:
            return self._text(text)
        self._held.append(text)
        if self._state == _CALL:
            return ""
        head = "".join(self._held)
        stripped = head.lstrip()
        if not stripped:
            return ""
        starts = self._syntax.starts_call(stripped)
        if starts is None:
            self._held = [head]
            return ""
        if starts:
            self._state, self._held = _CALL, [head]
            return ""
        self._state, self._held = _TEXT, []
        return self._text(head)

    def finish(self) -> tuple[str, list[tuple[str, str]]]:
        """End the answer: return the held text that is not a call, and the calls (name, arguments JSON)."""
        held = "".join(self._held)
        self._held = []
        if self._state != _CALL:
            return held, []
        parsed = self._syntax.parse(held)
        if parsed is None:
            return held, []
        rest, found = parsed
        calls = [checked_call(name, arguments, self._names) for name, arguments in found]
        if not calls or any(call is None for call in calls):
            return held, []
        return rest, [call for call in calls if call is not None]

    def _text(self, text: str) -> str:
        marker = self._marker
        if marker is None or (not self._held and marker[0] not in text):
            return text  # the common case, plain text: nothing to look for
        buffer = "".join(self._held) + text
        start = buffer.find(marker)
        if start >= 0:
            self._state, self._held = _CALL, [buffer[start:]]
            return buffer[:start]
        keep = _marker_prefix_length(buffer, marker)
        self._held = [buffer[len(buffer) - keep :]] if keep else []
        return buffer[: len(buffer) - keep]


def _marker_prefix_length(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that is the beginning of ``marker`` (held: it may be one)."""
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-length:]):
            return length
    return 0


def _name_and_arguments(item: Any) -> tuple[Any, Any]:
    """Return a JSON call's name and arguments (``parameters`` or ``arguments``); Nones for a non-object."""
    if not isinstance(item, dict):
        return None, None
    return item.get("name"), item.get("parameters", item.get("arguments", {}))


def json_values(text: str, *, separators: str) -> list[Any] | None:
    """Read consecutive JSON values (apart from whitespace and ``separators``); ``None`` if anything else."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    skip = " \t\r\n" + separators
    while position < len(text):
        while position < len(text) and text[position] in skip:
            position += 1
        if position == len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            return None
        values.append(value)
    return values
