"""SageMaker runtime error responses, shaped as botocore's rest-json parser reads them.

The error code travels in the ``x-amzn-ErrorType`` header (``Code:namespace``, as AWS sends it) and the
JSON body carries ``Message`` plus the modeled members (``ModelError``'s ``OriginalStatusCode`` ...).
"""

import json
from dataclasses import dataclass, field

ACCOUNT_ID = "123456789012"
"""The account id the emulator pretends to run in (it appears in messages, as on AWS)."""

_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/"


@dataclass(frozen=True)
class ErrorResponse:
    """One HTTP error answer: status, AWS error code and JSON body."""

    status: int
    code: str
    body: dict[str, object] = field(default_factory=dict)
    namespace: str | None = _ERROR_NAMESPACE
    """Sent after the code in ``x-amzn-ErrorType`` (``Code:namespace``); None sends the code alone."""

    def headers(self) -> dict[str, str]:
        """Return the response headers that carry the error code."""
        error_type = self.code if self.namespace is None else f"{self.code}:{self.namespace}"
        return {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}

    def encoded_body(self) -> bytes:
        """Return the JSON body bytes."""
        return json.dumps(self.body).encode("utf-8")


def validation_error(message: str) -> ErrorResponse:
    """Return a ``ValidationError`` (HTTP 400): the request is wrong (unknown endpoint, bad header...)."""
    return ErrorResponse(400, "ValidationError", {"Message": message})


def unknown_endpoint(endpoint_name: str) -> ErrorResponse:
    """Return the ``ValidationError`` SageMaker sends for an endpoint that does not exist."""
    return validation_error(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")


def throttling() -> ErrorResponse:
    """Return a ``ThrottlingException`` (HTTP 400), which botocore's retry handler treats as throttling."""
    return ErrorResponse(400, "ThrottlingException", {"Message": "Rate exceeded"})


def missing_authentication() -> ErrorResponse:
    """Return the answer AWS gives to a request without a SigV4 ``Authorization`` header."""
    return ErrorResponse(
        403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"}
    )


def internal_failure(message: str) -> ErrorResponse:
    """Return an ``InternalFailure`` (HTTP 500): the emulator itself could not serve the request."""
    return ErrorResponse(500, "InternalFailure", {"Message": message})


def model_error(endpoint_name: str, region: str, original_status: int, original_body: bytes) -> ErrorResponse:
    """Return the ``ModelError`` (HTTP 424) SageMaker sends when the container answered non-2xx."""
    original_message = original_body.decode("utf-8", errors="replace")
    kind = "client" if 400 <= original_status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    message = (
        f'Received {kind} error ({original_status}) from primary with message "{original_message}". '
        f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
        f"group={log_group} in account {ACCOUNT_ID} for more information."
    )
    return ErrorResponse(
        424,
        "ModelError",
        {
            "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
            "LogStreamArn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{log_group}",
            "Message": message,
            "OriginalMessage": original_message,
            "OriginalStatusCode": original_status,
        },
    )


def control_plane_error(code: str, message: str, status: int = 400) -> ErrorResponse:
    """Return a ``sagemaker`` (JSON 1.1 protocol) error: the code in ``__type``, as botocore reads it."""
    return ErrorResponse(status, code, {"__type": code, "message": message})
