"""The SageMaker-runtime emulator: an HTTP server that boto3's ``sagemaker-runtime`` client talks to.

It serves ``InvokeEndpoint`` (``POST /endpoints/{name}/invocations``) and ``InvokeEndpointWithResponseStream``
(``POST /endpoints/{name}/invocations-response-stream``) by forwarding the body to a container-contract
server and answering as SageMaker does: the container's bytes (or, on the stream route, AWS event-stream
``PayloadPart`` frames), and SageMaker's error responses and stream exception events. On the same port it
answers the ``sagemaker`` client's inference-component calls (``local.emulator.control_plane``), so an
inference component can be scaled to zero and woken as on AWS.
"""

import http.client
import logging
import re
import socket
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local.emulator import control_plane, errors, eventstream
from local.emulator.backend import BackendUnreachableError, Endpoint, open_invocation
from local.emulator.background import BackgroundServer
from local.emulator.components import NO_CAPACITY_MESSAGE, InferenceComponent
from local.emulator.faults import Faults, FaultState

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""SageMaker real-time endpoints accept request payloads up to 6 MB."""
MAX_CUSTOM_ATTRIBUTES_CHARS = 1024
MAX_DISCARDED_BYTES = 64 * 1024 * 1024
"""A request body the emulator refuses is still read (and dropped) up to this size before the answer."""

_ROUTE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<operation>invocations|invocations-response-stream)$")
_STREAM_OPERATION = "invocations-response-stream"
_READ_SIZE = 64 * 1024
_MAX_CHUNK_LINE = 1024
_VISIBLE_ASCII = re.compile(r"^[\x20-\x7e]*$")

# Request headers SageMaker passes on to the container, under the name the container sees.
_FORWARDED_HEADERS = (
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Session-Id",
)


@dataclass(frozen=True)
class Invocation:
    """One request to an invocation route, as the emulator read it (before any check or fault)."""

    endpoint_name: str
    stream: bool
    """Whether it was ``InvokeEndpointWithResponseStream`` (else ``InvokeEndpoint``)."""
    path: str
    headers: dict[str, str]
    body: bytes


# The listen backlog: socketserver's default of 5 dropped connections of a burst (about 8 % of 64 concurrent
# streams failed) while the serving thread was still starting handler threads. The system's maximum; the
# kernel caps it at net.core.somaxconn (4096 by default since Linux 5.4).
LISTEN_BACKLOG = socket.SOMAXCONN


class Emulator(BackgroundServer):
    """A SageMaker-runtime emulator serving ``endpoints`` on ``host:port`` (port 0 picks a free one).

    Use it as a context manager (or ``start``/``stop``) to serve from a background thread, or call
    ``serve_forever``; ``url`` is the base URL to give boto3 as ``endpoint_url``. ``faults`` can be
    replaced at any time with ``set_faults``. ``on_invocation`` is called (from the serving thread) with
    every request an invocation route reads a body for, throttled and invalid ones included: what a client
    really sent, for tests and debugging.

    Every inference component of the endpoints starts with ``component_copies`` copies in service (0: scaled
    to zero, so invocations are refused until a copy is asked for); copies asked for come into service
    ``warm_up_seconds`` later. ``components`` holds them by name.
    """

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        faults: Faults | None = None,
        backend_timeout: float = 60.0,
        on_invocation: Callable[[Invocation], None] | None = None,
        component_copies: int = 1,
        warm_up_seconds: float = 0.0,
    ) -> None:
        if not endpoints:
            raise ValueError("the emulator needs at least one endpoint")
        if backend_timeout <= 0:
            raise ValueError(f"backend_timeout must be > 0, got {backend_timeout}")
        self.endpoints = dict(endpoints)
        self.region = region
        self.backend_timeout = backend_timeout
        self.fault_state = FaultState(faults)
        self.on_invocation = on_invocation
        self.components = {
            name: InferenceComponent(
                name, endpoint_name, copies=component_copies, warm_up_seconds=warm_up_seconds, region=region
            )
            for endpoint_name, endpoint in self.endpoints.items()
            for name in endpoint.inference_components
        }
        super().__init__(_EmulatorHTTPServer((host, port), self), "sagemaker-emulator")

    @property
    def faults(self) -> Faults:
        """The faults in force now."""
        return self.fault_state.current

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults for every request that arrives from now on."""
        self.fault_state.set(faults)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Log a client dropping a kept-alive connection quietly, anything else with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("connection from %s dropped: %r", client_address, error)
        else:
            logger.exception("unexpected error while serving %s", client_address)


class _ClientGoneError(Exception):
    """The caller closed the connection while the emulator was still answering."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and each event-stream frame are separate small writes: with Nagle's algorithm on, a frame can
    # wait ~40 ms for the client's delayed ACK, which would show up as latency that SageMaker does not add.
    disable_nagle_algorithm = True
    server: _EmulatorHTTPServer
    _head_sent = False
    """Whether the current request's status line went out (after that, errors can only cut the stream)."""

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        self._head_sent = False
        try:
            self._serve_post()
        except _ClientGoneError:
            self.close_connection = True
        except Exception as error:
            # A bug in the emulator: answer like AWS's own internal errors instead of dropping the connection.
            logger.exception("the emulator failed to serve %s", self.path)
            self.close_connection = True
            if not self._head_sent:
                self._send_error(errors.internal_failure(f"The emulator failed: {error!r}"))

    def _serve_post(self) -> None:
        emulator = self.server.emulator
        path = urllib.parse.urlsplit(self.path).path
        if path == "/" and "X-Amz-Target" in self.headers:
            self._serve_control_plane(emulator)
            return
        match = _ROUTE.match(path)
        if match is None:
            self._unknown_operation()
            return
        body = self._read_body()
        if body is None:
            return
        endpoint_name = urllib.parse.unquote(match["name"])
        stream = match["operation"] == _STREAM_OPERATION
        if emulator.on_invocation is not None:
            emulator.on_invocation(
                Invocation(endpoint_name, stream, self.path, dict(self.headers.items()), body)
            )
        if "Authorization" not in self.headers:
            self._send_error(errors.missing_authentication())
            return
        faults, throttled = emulator.fault_state.take_for_request()
        if throttled:
            self._send_error(errors.throttling())
            return
        endpoint = emulator.endpoints.get(endpoint_name)
        if endpoint is None:
            self._send_error(errors.unknown_endpoint(endpoint_name))
            return
        problem = self._validate_headers(endpoint_name, endpoint)
        if problem is not None:
            self._send_error(errors.validation_error(problem))
            return
        component = self.headers.get("X-Amzn-SageMaker-Inference-Component")
        if component is not None and not emulator.components[component].admit():
            self._send_error(errors.validation_error(NO_CAPACITY_MESSAGE))
            return
        if faults.first_byte_delay:
            time.sleep(faults.first_byte_delay)
        self._invoke(emulator, endpoint_name, endpoint, body, faults, stream=stream)

    def _serve_control_plane(self, emulator: Emulator) -> None:
        body = self._read_body()
        if body is None:
            return
        if "Authorization" not in self.headers:
            self._send_error(errors.missing_authentication())
            return
        answer = control_plane.handle(
            self.headers.get("X-Amz-Target"), body, emulator.components, emulator.region
        )
        if isinstance(answer, errors.ErrorResponse):
            self._send_error(answer)
            return
        payload = answer.encoded_body()
        self._send_head(
            200,
            {
                "x-amzn-RequestId": str(uuid.uuid4()),
                "Content-Type": control_plane.CONTENT_TYPE,
                "Content-Length": str(len(payload)),
            },
        )
        self._write(payload)

    def _unknown_operation(self) -> None:
        self._head_sent = False
        self._refuse(errors.ErrorResponse(404, "UnknownOperationException", {"message": "Not Found"}))

    # The runtime API has POST operations only.
    do_GET = do_PUT = do_DELETE = do_PATCH = _unknown_operation

    def _read_body(self) -> bytes | None:
        """Return the request body, or answer a ``ValidationError`` and return None."""
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._refuse(errors.validation_error("The request must carry a Content-Length header."))
            return None
        length = int(length_header)
        if length > MAX_REQUEST_BYTES:
            self._refuse(
                errors.validation_error(
                    f"Request payload of {length} bytes exceeds the maximum of {MAX_REQUEST_BYTES} bytes."
                )
            )
            return None
        return self.rfile.read(length)

    def _refuse(self, error: errors.ErrorResponse) -> None:
        """Answer ``error`` once the client has sent its whole body, then close the connection.

        Closing a socket with request bytes still unread makes the kernel reset the connection: the client
        could then fail while still sending, or lose the answer. So the body is read first (up to
        ``MAX_DISCARDED_BYTES``), as HTTP servers do before an early error answer.
        """
        self._discard_body()
        self.close_connection = True
        self._send_error(error)

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

    def _validate_headers(self, endpoint_name: str, endpoint: Endpoint) -> str | None:
        custom_attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if custom_attributes is not None and (
            len(custom_attributes) > MAX_CUSTOM_ATTRIBUTES_CHARS
            or not _VISIBLE_ASCII.match(custom_attributes)
        ):
            return (
                "CustomAttributes must be at most 1024 visible US-ASCII characters "
                f"(got {len(custom_attributes)} characters)."
            )
        variant = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        if variant is not None and variant not in endpoint.variants:
            return f"Variant {variant} not found in endpoint {endpoint_name}."
        component = self.headers.get("X-Amzn-SageMaker-Inference-Component")
        if endpoint.inference_components:
            if component is None:
                return (
                    f"Endpoint {endpoint_name} hosts inference components: "
                    "an InferenceComponentName is required."
                )
            if component not in endpoint.inference_components:
                return f"Inference component {component} not found in endpoint {endpoint_name}."
        elif component is not None:
            return (
                f"Endpoint {endpoint_name} hosts no inference components, "
                "so InferenceComponentName is not allowed."
            )
        return None

    def _backend_headers(self, stream: bool) -> dict[str, str]:
        headers = {
            name: value for name in _FORWARDED_HEADERS if (value := self.headers.get(name)) is not None
        }
        content_type = self.headers.get("Content-Type")
        if content_type is not None:
            headers["Content-Type"] = content_type
        accept = self.headers.get("X-Amzn-SageMaker-Accept" if stream else "Accept")
        if accept is not None:
            headers["Accept"] = accept
        return headers

    def _invoke(
        self,
        emulator: Emulator,
        endpoint_name: str,
        endpoint: Endpoint,
        body: bytes,
        faults: Faults,
        stream: bool,
    ) -> None:
        try:
            connection, response = open_invocation(
                endpoint, body, self._backend_headers(stream), emulator.backend_timeout
            )
        except BackendUnreachableError as error:
            self._send_error(errors.internal_failure(str(error)))
            return
        try:
            if not 200 <= response.status < 300:
                self._send_error(
                    errors.model_error(endpoint_name, emulator.region, response.status, _read_all(response))
                )
            elif stream:
                self._stream(endpoint, response, faults)
            else:
                self._answer(endpoint, response)
        finally:
            connection.close()

    def _common_headers(self, endpoint: Endpoint, response: http.client.HTTPResponse) -> dict[str, str]:
        headers = {
            "x-amzn-RequestId": str(uuid.uuid4()),
            "x-Amzn-Invoked-Production-Variant": self.headers.get("X-Amzn-SageMaker-Target-Variant")
            or endpoint.variants[0],
        }
        custom_attributes = response.getheader("X-Amzn-SageMaker-Custom-Attributes")
        if custom_attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        return headers

    def _answer(self, endpoint: Endpoint, response: http.client.HTTPResponse) -> None:
        try:
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._send_error(errors.internal_failure(f"the model container's answer broke off: {error!r}"))
            return
        headers = self._common_headers(endpoint, response)
        headers["Content-Type"] = response.getheader("Content-Type", "application/octet-stream")
        headers["Content-Length"] = str(len(payload))
        self._send_head(200, headers)
        self._write(payload)

    def _stream(self, endpoint: Endpoint, response: http.client.HTTPResponse, faults: Faults) -> None:
        headers = self._common_headers(endpoint, response)
        headers["Content-Type"] = eventstream.CONTENT_TYPE
        headers["X-Amzn-SageMaker-Content-Type"] = response.getheader(
            "Content-Type", "application/octet-stream"
        )
        headers["Transfer-Encoding"] = "chunked"
        self._send_head(200, headers)
        sent_bytes = 0
        for index, piece in enumerate(_pieces(response, faults.split_every)):
            if isinstance(piece, _BackendFailure):
                self._write_chunk(piece.event)
                break
            limit = faults.stream_error_after_bytes
            if limit is not None and sent_bytes + len(piece) > limit:
                if limit > sent_bytes:
                    self._write_chunk(eventstream.payload_part(piece[: limit - sent_bytes]))
                self._write_chunk(_injected_stream_error(faults, limit))
                break
            if index and faults.part_delay:
                time.sleep(faults.part_delay)
            self._write_chunk(eventstream.payload_part(piece))
            sent_bytes += len(piece)
        else:
            if faults.stream_error_after_bytes is not None and faults.stream_error_after_bytes >= sent_bytes:
                # The body was shorter than the fault's limit: the error still ends the stream.
                self._write_chunk(_injected_stream_error(faults, sent_bytes))
        self._write(b"0\r\n\r\n")

    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self._head_sent = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _send_error(self, error: errors.ErrorResponse) -> None:
        payload = error.encoded_body()
        headers = error.headers()
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        headers["Content-Length"] = str(len(payload))
        try:
            self._send_head(error.status, headers)
            self._write(payload)
        except _ClientGoneError:
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self._write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise _ClientGoneError from error


class _BackendFailure:
    """The container's stream broke: ``event`` is the exception event that ends the emulator's stream."""

    def __init__(self, event: bytes) -> None:
        self.event = event


def _pieces(response: http.client.HTTPResponse, split_every: int | None) -> Iterator[bytes | _BackendFailure]:
    """Yield the container's body as it arrives (re-split if asked), then a failure if it broke off."""
    while True:
        try:
            chunk = response.read1(_READ_SIZE)
        except TimeoutError:
            yield _BackendFailure(
                eventstream.exception_event(
                    "ModelStreamError",
                    "Your model did not finish sending its response within the allowed time.",
                    "ModelInvocationTimeExceeded",
                )
            )
            return
        except (OSError, http.client.HTTPException, ValueError) as error:
            yield _BackendFailure(
                eventstream.exception_event(
                    "ModelStreamError",
                    f"The connection to your model was closed before the response was complete ({error!r}).",
                    "StreamBroken",
                )
            )
            return
        if not chunk:
            return
        if split_every is None:
            yield chunk
        else:
            for start in range(0, len(chunk), split_every):
                yield chunk[start : start + split_every]


def _injected_stream_error(faults: Faults, after_bytes: int) -> bytes:
    message = f"Emulated fault: the response stream failed after {after_bytes} bytes."
    if faults.stream_error_type == "ModelStreamError":
        return eventstream.exception_event("ModelStreamError", message, "StreamBroken")
    return eventstream.exception_event("InternalStreamFailure", message)


def _read_all(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as error:
        return f"(the error body broke off: {error!r})".encode()
