"""Incremental server-sent events decoding (the WHATWG `text/event-stream` rules the agent API follows)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# SSE lines end with CRLF, LF or CR only (str.splitlines would also split on U+2028 inside JSON data).
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Event:
    """One dispatched event: its type (`message` when unnamed) and its data lines joined by newlines."""

    name: str
    data: str


@dataclass
class _Pending:
    name: str = ""
    data: list[str] = field(default_factory=list)

    def line(self, line: str) -> Event | None:
        """Apply one line; a blank line dispatches the event gathered so far."""
        if not line:
            event = Event(self.name or "message", "\n".join(self.data)) if self.data else None
            self.name, self.data = "", []
            return event
        if not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self.name = value
            elif name == "data":
                self.data.append(value)
        return None


def iter_events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Decode events from byte chunks as they arrive; each is yielded as soon as its closing blank line is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = _Pending()
    buffer = ""
    for chunk in chunks:
        buffer += decoder.decode(chunk)
        while match := _LINE_END.search(buffer):
            if match.group() == "\r" and match.end() == len(buffer):
                break  # may be the first half of a CRLF split across chunks
            line, buffer = buffer[: match.start()], buffer[match.end() :]
            event = pending.line(line)
            if event is not None:
                yield event
