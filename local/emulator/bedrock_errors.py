"""Bedrock runtime's error answers and ConverseStream's exception events, as botocore parses them.

Bedrock speaks rest-json: the error code in the ``x-amzn-ErrorType`` header, ``{"message": ...}`` (plus the
modeled members) as the body, and each error's HTTP status from botocore's ``bedrock-runtime`` service model
(``ValidationException`` 400, ``ThrottlingException`` 429, ``ModelErrorException`` 424,
``ModelTimeoutException`` 408, ``InternalServerException`` 500). botocore turns the code into the client's
exception class (``client.exceptions.ValidationException``...).

Mid-stream, an error is an event-stream ``exception`` message naming the member of ``ConverseStreamOutput``
(``modelStreamErrorException``, ``internalServerException``...): botocore raises ``EventStreamError`` with
that member name as the code, which Strands' ``BedrockModel`` inspects (``throttlingException``).
"""

from local.emulator import eventstream
from local.emulator.errors import ErrorResponse

INVALID_MODEL_ID_MESSAGE = "The provided model identifier is invalid."
"""Bedrock's ``ValidationException`` message for a model id the account cannot invoke in the region (a typo,
another region's inference profile...); Strands' ``BedrockModel`` matches on it to add a hint."""
THROTTLING_MESSAGE = "Too many requests, please wait before trying again."


def _error(status: int, code: str, message: str, **members: object) -> ErrorResponse:
    # The code alone in x-amzn-ErrorType: botocore keeps what precedes any ':', and the emulator does not
    # claim to know Bedrock's internal namespace.
    return ErrorResponse(status, code, {"message": message, **members}, namespace=None)


def validation(message: str) -> ErrorResponse:
    """Return a ``ValidationException`` (HTTP 400): the request is not one Bedrock accepts."""
    return _error(400, "ValidationException", message)


def invalid_model_id() -> ErrorResponse:
    """Return the ``ValidationException`` Bedrock answers for a model id it does not serve the caller."""
    return validation(INVALID_MODEL_ID_MESSAGE)


def throttling() -> ErrorResponse:
    """Return a ``ThrottlingException`` (HTTP 429); botocore's retry handler retries it."""
    return _error(429, "ThrottlingException", THROTTLING_MESSAGE)


def model_error(message: str, model_id: str, original_status: int | None = None) -> ErrorResponse:
    """Return a ``ModelErrorException`` (HTTP 424): the model failed while answering.

    ``original_status`` is the status the model server answered, when it answered one.
    """
    members: dict[str, object] = {"resourceName": model_id}
    if original_status is not None:
        members["originalStatusCode"] = original_status
    return _error(424, "ModelErrorException", message, **members)


def model_timeout(message: str) -> ErrorResponse:
    """Return a ``ModelTimeoutException`` (HTTP 408): the model took too long."""
    return _error(408, "ModelTimeoutException", message)


def internal_server(message: str) -> ErrorResponse:
    """Return an ``InternalServerException`` (HTTP 500)."""
    return _error(500, "InternalServerException", message)


def model_stream_error_event(message: str) -> bytes:
    """Return the ``modelStreamErrorException`` event that ends a stream the model broke off."""
    return eventstream.exception("modelStreamErrorException", {"message": message})


def internal_server_event(message: str) -> bytes:
    """Return the ``internalServerException`` event that ends a stream Bedrock itself failed."""
    return eventstream.exception("internalServerException", {"message": message})
