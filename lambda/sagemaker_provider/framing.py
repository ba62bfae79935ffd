r"""Turn response bytes, split at arbitrary points, into decoded JSON payloads.

A SageMaker response stream is a sequence of ``PayloadPart`` byte blobs that are not aligned with anything:
one part may hold several events, half an event, or half of a multi-byte UTF-8 character. Framing is done on
bytes, before any decoding: ``\n`` (0x0A) never occurs inside a multi-byte UTF-8 sequence, so splitting on it
is safe, and each complete line is decoded exactly once, by ``json.loads``, which accepts UTF-8 bytes. That is
both the correct incremental decode and the cheapest one.

One reader handles every framing the supported servers use:

- Server-Sent Events: ``data:`` with or without a space, multi-line ``data``, ``:`` comments (keep-alives),
  ``event:``/``id:``/``retry:`` fields, CRLF line ends, the ``[DONE]`` sentinel, ``event: error``;
- bare JSON lines (``application/jsonlines``), including a last line with no newline;
- a whole JSON document, even pretty-printed over several lines (a non-streaming body).
"""

from __future__ import annotations

import json
from typing import Any, Final

from .errors import MalformedChunkError, StreamTruncatedError


class _Done:
    """Type of the :data:`DONE` sentinel."""

    def __repr__(self) -> str:
        return "DONE"


DONE: Final = _Done()
"""Returned in place of a payload for the SSE ``data: [DONE]`` end marker."""


class ErrorEvent:
    """An SSE event named ``error`` (``event: error``), whatever its data holds.

    Attributes:
        data: The event's data, decoded as UTF-8 text.

    """

    def __init__(self, data: str) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"ErrorEvent({self.data!r})"


class PayloadReader:
    """Incremental reader: bytes in, decoded payloads out.

    :meth:`feed` returns, in order, every payload completed by the new bytes: a decoded JSON value, the
    :data:`DONE` sentinel, or an :class:`ErrorEvent`. :meth:`finish` returns what the end of the stream
    completes, or raises :class:`StreamTruncatedError` when the stream stopped inside a payload.
    """

    def __init__(self, format_name: str) -> None:
        self._format_name = format_name
        self._rest = b""
        self._data: list[bytes] = []
        self._event: bytes | None = None
        self._seen_payload = False
        # Set once the body turned out to be one JSON document spread over several lines.
        self._document: bytearray | None = None

    def feed(self, data: bytes) -> list[Any]:
        """Consume one part of the body and return the payloads it completes."""
        if self._document is not None:
            self._document += data
            return []
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        return self._read_lines(lines)

    def finish(self) -> list[Any]:
        """Signal the end of the body and return the payloads it completes."""
        document = self._document_payload()
        if document is not None:
            return document
        rest, self._rest = self._rest, b""
        try:
            out = self._read_lines([rest]) if rest.strip() else []
            if self._document is None and self._data:
                out.append(self._dispatch())
        except MalformedChunkError as error:
            # Whatever is left unterminated at the end was cut off, not corrupted.
            raise StreamTruncatedError(
                self._format_name, f"the body ends inside a chunk: {error.raw[:200]!r}"
            ) from error
        return self._document_payload() or out

    def _read_lines(self, lines: list[bytes]) -> list[Any]:
        out: list[Any] = []
        for position, line in enumerate(lines):
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    out.append(self._dispatch())
                self._event = None
                continue
            if line[:1] in (b" ", b"\t"):  # leading blanks before a bare JSON line
                line = line.strip()
                if not line:
                    continue
            if line.startswith(b"data:"):
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                self._data.append(value)
            elif line.startswith(b":"):  # an SSE comment, used as keep-alive
                continue
            elif line.startswith((b"{", b"[")):  # a bare JSON line
                try:
                    out.append(json.loads(line))
                except ValueError as error:
                    if self._seen_payload:
                        raise MalformedChunkError(self._format_name, line, "invalid JSON line") from error
                    # The first line of a body that is not JSON on its own: one multi-line document.
                    self._document = bytearray(b"\n".join(lines[position:]))
                    self._document += b"\n" + self._rest
                    self._rest = b""
                    return out
                self._seen_payload = True
            elif line.startswith(b"event:"):
                self._event = line[6:].strip()
            elif line.startswith((b"id:", b"retry:")) or not line.strip():
                continue
            else:
                raise MalformedChunkError(self._format_name, line, "neither an SSE field nor a JSON line")
        return out

    def _document_payload(self) -> list[Any] | None:
        """Return the decoded multi-line document, when the body turned out to be one."""
        if self._document is None:
            return None
        return [self._decode_document(bytes(self._document))]

    def _dispatch(self) -> Any:
        data = b"\n".join(self._data)
        self._data = []
        self._seen_payload = True
        if self._event == b"error":
            return ErrorEvent(data.decode("utf-8", "replace"))
        if data == b"[DONE]":
            return DONE
        try:
            return json.loads(data)
        except ValueError as error:
            raise MalformedChunkError(self._format_name, data, "invalid JSON in an SSE data field") from error

    def _decode_document(self, document: bytes) -> Any:
        try:
            return json.loads(document)
        except json.JSONDecodeError as error:
            if error.pos >= len(document.rstrip()):
                raise StreamTruncatedError(
                    self._format_name, f"the JSON body is incomplete: {document[:200]!r}"
                ) from error
            raise MalformedChunkError(self._format_name, document, "invalid JSON body") from error
        except ValueError as error:
            raise MalformedChunkError(self._format_name, document, "body is not UTF-8 JSON") from error
