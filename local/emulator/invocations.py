"""SageMaker runtime's ``InvokeEndpoint`` and ``InvokeEndpointWithResponseStream``, served by forwarding.

``POST /endpoints/{name}/invocations`` and ``POST /endpoints/{name}/invocations-response-stream`` forward the
body to the endpoint's container and answer as SageMaker does: the container's bytes (or, on the stream
route, AWS event-stream ``PayloadPart`` frames), SageMaker's error responses and stream exception events,
with the emulator's faults applied.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from local.emulator import errors, eventstream
from local.emulator.backend import BackendUnreachableError, Endpoint, open_post, read_all
from local.emulator.components import NO_CAPACITY_MESSAGE
from local.emulator.exchange import Exchange, new_request_id
from local.emulator.faults import Faults

if TYPE_CHECKING:
    from local.emulator.server import Emulator

MAX_CUSTOM_ATTRIBUTES_CHARS = 1024

ROUTE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<operation>invocations|invocations-response-stream)$")
STREAM_OPERATION = "invocations-response-stream"
_READ_SIZE = 64 * 1024
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


def serve(exchange: Exchange, emulator: Emulator, endpoint_name: str, stream: bool, body: bytes) -> None:
    """Answer one invocation of ``endpoint_name`` whose ``body`` has been read."""
    if emulator.on_invocation is not None:
        emulator.on_invocation(
            Invocation(endpoint_name, stream, exchange.path, dict(exchange.headers.items()), body)
        )
    if "Authorization" not in exchange.headers:
        exchange.send_error_response(errors.missing_authentication())
        return
    faults, throttled = emulator.fault_book.take_for_request(endpoint_name)
    if throttled:
        exchange.send_error_response(errors.throttling())
        return
    endpoint = emulator.endpoints.get(endpoint_name)
    if endpoint is None:
        exchange.send_error_response(errors.unknown_endpoint(endpoint_name))
        return
    problem = _header_problem(exchange, endpoint_name, endpoint)
    if problem is not None:
        exchange.send_error_response(errors.validation_error(problem))
        return
    component = exchange.headers.get("X-Amzn-SageMaker-Inference-Component")
    if component is not None and not emulator.components[component].admit():
        exchange.send_error_response(errors.validation_error(NO_CAPACITY_MESSAGE))
        return
    if faults.first_byte_delay:
        time.sleep(faults.first_byte_delay)
    _invoke(exchange, emulator, endpoint_name, endpoint, body, faults, stream=stream)


def _header_problem(exchange: Exchange, endpoint_name: str, endpoint: Endpoint) -> str | None:
    custom_attributes = exchange.headers.get("X-Amzn-SageMaker-Custom-Attributes")
    if custom_attributes is not None and (
        len(custom_attributes) > MAX_CUSTOM_ATTRIBUTES_CHARS or not _VISIBLE_ASCII.match(custom_attributes)
    ):
        return (
            "CustomAttributes must be at most 1024 visible US-ASCII characters "
            f"(got {len(custom_attributes)} characters)."
        )
    variant = exchange.headers.get("X-Amzn-SageMaker-Target-Variant")
    if variant is not None and variant not in endpoint.variants:
        return f"Variant {variant} not found in endpoint {endpoint_name}."
    component = exchange.headers.get("X-Amzn-SageMaker-Inference-Component")
    if endpoint.inference_components:
        if component is None:
            return (
                f"Endpoint {endpoint_name} hosts inference components: an InferenceComponentName is required."
            )
        if component not in endpoint.inference_components:
            return f"Inference component {component} not found in endpoint {endpoint_name}."
    elif component is not None:
        return (
            f"Endpoint {endpoint_name} hosts no inference components, "
            "so InferenceComponentName is not allowed."
        )
    return None


def _backend_headers(exchange: Exchange, stream: bool) -> dict[str, str]:
    headers = {
        name: value for name in _FORWARDED_HEADERS if (value := exchange.headers.get(name)) is not None
    }
    content_type = exchange.headers.get("Content-Type")
    if content_type is not None:
        headers["Content-Type"] = content_type
    accept = exchange.headers.get("X-Amzn-SageMaker-Accept" if stream else "Accept")
    if accept is not None:
        headers["Accept"] = accept
    return headers


def _invoke(
    exchange: Exchange,
    emulator: Emulator,
    endpoint_name: str,
    endpoint: Endpoint,
    body: bytes,
    faults: Faults,
    stream: bool,
) -> None:
    try:
        connection, response = open_post(
            endpoint.backend_url,
            endpoint.invocation_target,
            body,
            _backend_headers(exchange, stream),
            emulator.backend_timeout,
        )
    except BackendUnreachableError as error:
        exchange.send_error_response(errors.internal_failure(str(error)))
        return
    try:
        if not 200 <= response.status < 300:
            exchange.send_error_response(
                errors.model_error(endpoint_name, emulator.region, response.status, read_all(response))
            )
        elif stream:
            _stream(exchange, endpoint, response, faults)
        else:
            _answer(exchange, endpoint, response)
    finally:
        connection.close()


def _common_headers(
    exchange: Exchange, endpoint: Endpoint, response: http.client.HTTPResponse
) -> dict[str, str]:
    headers = {
        "x-amzn-RequestId": new_request_id(),
        "x-Amzn-Invoked-Production-Variant": exchange.headers.get("X-Amzn-SageMaker-Target-Variant")
        or endpoint.variants[0],
    }
    custom_attributes = response.getheader("X-Amzn-SageMaker-Custom-Attributes")
    if custom_attributes is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    return headers


def _answer(exchange: Exchange, endpoint: Endpoint, response: http.client.HTTPResponse) -> None:
    try:
        payload = response.read()
    except (OSError, http.client.HTTPException) as error:
        exchange.send_error_response(
            errors.internal_failure(f"the model container's answer broke off: {error!r}")
        )
        return
    headers = _common_headers(exchange, endpoint, response)
    headers["Content-Type"] = response.getheader("Content-Type", "application/octet-stream")
    headers["Content-Length"] = str(len(payload))
    exchange.send_head(200, headers)
    exchange.write(payload)


def _stream(
    exchange: Exchange, endpoint: Endpoint, response: http.client.HTTPResponse, faults: Faults
) -> None:
    headers = _common_headers(exchange, endpoint, response)
    headers["Content-Type"] = eventstream.CONTENT_TYPE
    headers["X-Amzn-SageMaker-Content-Type"] = response.getheader("Content-Type", "application/octet-stream")
    headers["Transfer-Encoding"] = "chunked"
    exchange.send_head(200, headers)
    sent_bytes = 0
    for index, piece in enumerate(_pieces(response, faults.split_every)):
        if isinstance(piece, _BackendFailure):
            exchange.write_chunk(piece.event)
            break
        limit = faults.stream_error_after_bytes
        if limit is not None and sent_bytes + len(piece) > limit:
            if limit > sent_bytes:
                exchange.write_chunk(eventstream.payload_part(piece[: limit - sent_bytes]))
            exchange.write_chunk(_injected_stream_error(faults, limit))
            break
        if index and faults.part_delay:
            time.sleep(faults.part_delay)
        exchange.write_chunk(eventstream.payload_part(piece))
        sent_bytes += len(piece)
    else:
        if faults.stream_error_after_bytes is not None and faults.stream_error_after_bytes >= sent_bytes:
            # The body was shorter than the fault's limit: the error still ends the stream.
            exchange.write_chunk(_injected_stream_error(faults, sent_bytes))
    exchange.end_chunks()


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
