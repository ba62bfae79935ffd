"""Encoding of AWS event-stream messages (``application/vnd.amazon.eventstream``).

Each message is: a prelude (total length, headers length, CRC32 of those 8 bytes), the headers, the payload
and a CRC32 of everything before it. An event names its member of the operation's event-stream union in
``:event-type``; a modeled error mid-stream is a message of type ``exception`` naming its member in
``:exception-type`` (Smithy's event-stream specification; botocore's ``EventStreamJSONParser`` reads them).
SageMaker's response stream sends one ``PayloadPart`` event per chunk and ends with a ``ModelStreamError`` or
``InternalStreamFailure`` exception on failure; Bedrock's ConverseStream sends JSON events (``messageStart``,
``contentBlockDelta``...) and ends with e.g. ``modelStreamErrorException``.
"""

import json
import struct
import zlib
from collections.abc import Mapping

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_STRING_HEADER_TYPE = 7
_PRELUDE_LENGTH = 12
_CRC_LENGTH = 4


def _encode_headers(headers: dict[str, str]) -> bytes:
    encoded = bytearray()
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        encoded += struct.pack("!B", len(name_bytes)) + name_bytes
        encoded += struct.pack("!BH", _STRING_HEADER_TYPE, len(value_bytes)) + value_bytes
    return bytes(encoded)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Return one event-stream message carrying ``headers`` (all string-valued) and ``payload``."""
    header_bytes = _encode_headers(headers)
    total_length = _PRELUDE_LENGTH + len(header_bytes) + len(payload) + _CRC_LENGTH
    prelude = struct.pack("!II", total_length, len(header_bytes))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack("!I", zlib.crc32(message))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """Return an event message: ``:event-type`` names the member of the operation's event-stream union."""
    return encode_message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload
    )


def json_event(event_type: str, body: Mapping[str, object]) -> bytes:
    """Return an event message whose payload is ``body`` as JSON (a rest-json event structure)."""
    return event(event_type, json.dumps(body).encode("utf-8"), "application/json")


def exception(exception_type: str, body: Mapping[str, object]) -> bytes:
    """Return a modeled exception message naming the union's error member in ``:exception-type``.

    botocore raises ``EventStreamError`` with that name as the error code.
    """
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(body).encode("utf-8"),
    )


def payload_part(data: bytes) -> bytes:
    """Return a ``PayloadPart`` event carrying ``data`` as its ``Bytes`` member."""
    return event("PayloadPart", data, "application/octet-stream")


def exception_event(exception_type: str, message: str, error_code: str | None = None) -> bytes:
    """Return a SageMaker exception event (e.g. ``ModelStreamError`` with its ``ErrorCode``)."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    return exception(exception_type, body)
