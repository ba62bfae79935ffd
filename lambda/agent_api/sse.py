"""Server-sent events: the media type and headers of every streamed answer, and the encoding of an event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MEDIA_TYPE = "text/event-stream"
# Proxies must not buffer or cache the stream, or text stops arriving as it is generated.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def encode_event(event: str, data: Mapping[str, Any]) -> bytes:
    """Encode one event; the JSON payload is on a single `data:` line (JSON escapes every newline)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()
