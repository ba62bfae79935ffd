"""One HTTP request and its answer, as every emulated API reads and writes them.

``Exchange`` is the request handler's I/O: the request body (bounded, and drained before an early refusal so
the client never sees a reset), the response head, whole JSON bodies, chunked bodies for event streams, and
AWS error answers. A client that hangs up mid-answer raises ``ClientGoneError``.
"""

import logging
import uuid
from http.server import BaseHTTPRequestHandler

from local.emulator import errors

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""SageMaker real-time endpoints accept request payloads up to 6 MB; the emulator applies it to every API."""
MAX_DISCARDED_BYTES = 64 * 1024 * 1024
"""A request body the emulator refuses is still read (and dropped) up to this size before the answer."""

_READ_SIZE = 64 * 1024
_MAX_CHUNK_LINE = 1024


def new_request_id() -> str:
    """Return a fresh ``x-amzn-RequestId`` value (AWS sends a UUID with every answer)."""
    return str(uuid.uuid4())


class ClientGoneError(Exception):
    """The caller closed the connection while the emulator was still answering."""


class Exchange(BaseHTTPRequestHandler):
    """A request handler with the reading and writing every emulated API shares."""

    protocol_version = "HTTP/1.1"
    # Headers and each event-stream frame are separate small writes: with Nagle's algorithm on, a frame can
    # wait ~40 ms for the client's delayed ACK, which would show up as latency that AWS does not add.
    disable_nagle_algorithm = True
    head_sent = False
    """Whether the current request's status line went out (after that, errors can only cut the stream)."""

    def log_message(self, format: str, *args: object) -> None:
        """Log each request at debug level (``http.server`` would print it to stderr)."""
        logger.debug("%s " + format, self.address_string(), *args)

    def read_body(self) -> bytes | None:
        """Return the request body, or answer a ``ValidationError`` and return None."""
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self.refuse(errors.validation_error("The request must carry a Content-Length header."))
            return None
        length = int(length_header)
        if length > MAX_REQUEST_BYTES:
            self.refuse(
                errors.validation_error(
                    f"Request payload of {length} bytes exceeds the maximum of {MAX_REQUEST_BYTES} bytes."
                )
            )
            return None
        return self.rfile.read(length)

    def refuse(self, error: errors.ErrorResponse) -> None:
        """Answer ``error`` once the client has sent its whole body, then close the connection.

        Closing a socket with request bytes still unread makes the kernel reset the connection: the client
        could then fail while still sending, or lose the answer. So the body is read first (up to
        ``MAX_DISCARDED_BYTES``), as HTTP servers do before an early error answer.
        """
        self._discard_body()
        self.close_connection = True
        self.send_error_response(error)

    def send_head(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and ``headers`` (plus ``Connection: close`` when the connection ends)."""
        self.head_sent = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send_whole(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        """Send a whole answer: ``headers`` plus the request id and ``Content-Length``, then ``payload``."""
        self.send_head(
            status, {**headers, "x-amzn-RequestId": new_request_id(), "Content-Length": str(len(payload))}
        )
        self.write(payload)

    def send_error_response(self, error: errors.ErrorResponse) -> None:
        """Answer ``error`` (status, error-code header, JSON body); a client already gone is ignored."""
        try:
            self.send_whole(error.status, error.headers(), error.encoded_body())
        except ClientGoneError:
            self.close_connection = True

    def write_chunk(self, data: bytes) -> None:
        """Write one chunk of a ``Transfer-Encoding: chunked`` body."""
        self.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def end_chunks(self) -> None:
        """End a chunked body."""
        self.write(b"0\r\n\r\n")

    def write(self, data: bytes) -> None:
        """Write ``data`` and flush it; ``ClientGoneError`` if the client has hung up."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ClientGoneError from error

    def _discard_body(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._discard_chunked_body()
            return
        length_header = self.headers.get("Content-Length", "0")
        if length_header.isdigit():
            self._discard(min(int(length_header), MAX_DISCARDED_BYTES))

    def _discard_chunked_body(self) -> None:
        discarded = 0
        while discarded <= MAX_DISCARDED_BYTES:
            size_field = self.rfile.readline(_MAX_CHUNK_LINE).split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                return  # not chunked after all: the connection is closed anyway
            if size == 0:
                # The trailer section ends with an empty line.
                while self.rfile.readline(_MAX_CHUNK_LINE).strip():
                    pass
                return
            self._discard(size + 2)  # the chunk and its CRLF
            discarded += size

    def _discard(self, length: int) -> None:
        while length > 0:
            data = self.rfile.read(min(length, _READ_SIZE))
            if not data:
                return
            length -= len(data)
