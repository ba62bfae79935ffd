"""Tool calls a server left in the answer's text, read back as tool calls.

A server returns a model's tool call as plain text when it runs without a tool parser (SGLang accepts tools
without one; vLLM with ``tool_choice: "none"``), with the wrong one, or through a prompt API (TGI/LMI native).
When tools were offered, an answer in one of these syntaxes becomes tool calls, if every name in it is the
name of an offered tool (otherwise it stays text, as written):

- Llama 3.x JSON, at the start of the answer: ``{"name": ..., "parameters": ...}`` (or ``"arguments"``),
  with or without ``<|python_tag|>``, several separated by ``;`` (vLLM's ``llama3_json`` parser);
- Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, one or several, after text or
  not (vLLM's and SGLang's ``hermes`` / ``qwen25`` parsers);
- Mistral: ``[TOOL_CALLS][{"name": ..., "arguments": ...}, ...]`` (vLLM's and SGLang's ``mistral`` parsers).

While streaming, only text that may still become a call is held back: whitespace at the start, an opening
``{`` whose first key may still be ``name`` (or ``type``), the end of a chunk that may be the start of a
marker (``<tool_``), and everything from a complete marker on, until the answer ends. Anything else is
released at once, in the chunk it came in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

PYTHON_TAG = "<|python_tag|>"
HERMES_OPEN = "<tool_call>"
HERMES_CLOSE = "</tool_call>"
MISTRAL_TOOL_CALLS = "[TOOL_CALLS]"
# Markers that start a call wherever they appear; a Llama JSON call starts the answer with "{" instead.
_MARKERS = (PYTHON_TAG, HERMES_OPEN, MISTRAL_TOOL_CALLS)
_MARKER_STARTS = frozenset(marker[0] for marker in _MARKERS)
# Keys a Llama JSON call may open with (Llama 3.2 sometimes writes {"type": "function", "name": ...}).
_FIRST_KEYS = ("name", "type")
_JSON_START = re.compile(r'\s*(?:<\|python_tag\|>)?\s*\{\s*(?:"(?P<key>[^"]*)(?P<closed>")?)?')
_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)


class TextToolCalls:
    """Watches one answer's text for tool calls written in it.

    Args:
        tool_names: The names of the tools offered; calls to other names are not calls.

    """

    def __init__(self, tool_names: Collection[str]) -> None:
        self._names = frozenset(tool_names)
        self._held = ""
        self._calling = False  # the held text starts a call: decided when the answer ends
        self._json = False  # ...as a Llama JSON object at the start of the answer
        self._started = False  # text other than whitespace was released

    def feed(self, text: str) -> str:
        """Take the next piece of the answer's text; return the text that is certainly not part of a call."""
        if self._started and not self._held and not _MARKER_STARTS.intersection(text):
            return text  # the common case, plain text mid-answer: nothing to look for
        if self._calling:
            self._held += text
            if self._json and not _may_be_json_call(self._held):
                return self._release_all()
            return ""
        buffer = self._held + text
        if not self._started:
            stripped = buffer.lstrip()
            if not stripped:
                self._held = buffer
                return ""
            if stripped.startswith("{"):
                self._held, self._calling, self._json = buffer, True, True
                if not _may_be_json_call(buffer):
                    return self._release_all()
                return ""
        start = _first_marker(buffer)
        if start >= 0:
            released, self._held, self._calling = buffer[:start], buffer[start:], True
        else:
            keep = _marker_prefix_length(buffer)
            released, self._held = buffer[: len(buffer) - keep], buffer[len(buffer) - keep :]
        if released.strip():
            self._started = True
        return released

    def finish(self) -> tuple[str, list[tuple[str, str]]]:
        """End the answer: return the held text that is not a call, and the calls (name, arguments JSON)."""
        held, self._held = self._held, ""
        if not self._calling:
            return held, []
        found = self._parse(held)
        if found is None:
            return held, []
        return found

    def _release_all(self) -> str:
        held, self._held = self._held, ""
        self._calling = self._json = False
        self._started = True
        return held

    def _parse(self, text: str) -> tuple[str, list[tuple[str, str]]] | None:
        stripped = text.strip()
        if stripped.startswith(MISTRAL_TOOL_CALLS):
            values = _json_values(stripped.removeprefix(MISTRAL_TOOL_CALLS), separators="")
            if values is None or len(values) != 1:
                return None
            items = values[0] if isinstance(values[0], list) else [values[0]]
            rest = ""
        elif stripped.startswith(HERMES_OPEN):
            items = []
            for body in _HERMES_CALL.findall(stripped):
                values = _json_values(body, separators="")
                if values is None or len(values) != 1:
                    return None
                items.append(values[0])
            rest = _HERMES_CALL.sub("", stripped).strip()
        else:
            parsed = _json_values(stripped.removeprefix(PYTHON_TAG), separators=";")
            if parsed is None:
                return None
            items, rest = parsed, ""
        calls = [self._call(item) for item in items]
        if not calls or any(call is None for call in calls):
            return None
        return rest, [call for call in calls if call is not None]

    def _call(self, item: Any) -> tuple[str, str] | None:
        if not isinstance(item, dict) or item.get("name") not in self._names:
            return None
        arguments = item.get("parameters", item.get("arguments", {}))
        if isinstance(arguments, str):  # some models write the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        if not isinstance(arguments, dict):
            return None
        return item["name"], json.dumps(arguments, ensure_ascii=False)


def _may_be_json_call(text: str) -> bool:
    """Whether text that opens with ``{`` may still be a Llama JSON call (its first key may be ``name``)."""
    match = _JSON_START.match(text)
    if match is None:
        return False
    key = match.group("key")
    if key is None:
        # Nothing but the brace yet, or something other than a key after it.
        return not text[match.end() :].strip()
    if match.group("closed"):
        return key in _FIRST_KEYS
    return any(first.startswith(key) for first in _FIRST_KEYS)


def _first_marker(text: str) -> int:
    found = [index for index in (text.find(marker) for marker in _MARKERS) if index >= 0]
    return min(found, default=-1)


def _marker_prefix_length(text: str) -> int:
    """Length of the longest end of ``text`` that is the beginning of a marker (held: it may be one)."""
    tail = text[-max(len(marker) for marker in _MARKERS) :]
    for start in range(len(tail)):
        piece = tail[start:]
        if any(marker.startswith(piece) for marker in _MARKERS):
            return len(piece)
    return 0


def _json_values(text: str, *, separators: str) -> list[Any] | None:
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
