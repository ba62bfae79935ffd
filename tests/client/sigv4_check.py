"""Recomputes a SigV4 signature over what a server received, to check a client's signing."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.scripted_server import Request

# The dummy credentials of tests/client/conftest.py.
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def expected_authorization_signature(received: Request, url: str, region: str, signed: set[str]) -> str:
    """The `Signature=` an `execute-api` SigV4 signer must have put on `received` (sent to `url`), given
    the names (lower case) of the headers besides SigV4's own that it signed."""
    request = AWSRequest(
        method=received.method,
        url=url,
        data=received.body,
        headers={k: v for k, v in received.headers.items() if k.lower() in signed},
    )
    request.headers["X-Amz-Date"] = received.headers["X-Amz-Date"]
    request.headers["X-Amz-Security-Token"] = received.headers["X-Amz-Security-Token"]
    request.context["timestamp"] = received.headers["X-Amz-Date"]
    signer = SigV4Auth(CREDENTIALS, "execute-api", region)
    return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
