"""SigV4 signing for OpenAI clients, so that the `openai` SDK can call an agent API behind IAM authorization.

    client = OpenAI(base_url=OPENAI_BASE_URL, api_key="iam",
                    http_client=httpx.Client(auth=SigV4HttpxAuth(boto3.Session(), "us-east-1")))

The SDK sends its API key as `Authorization: Bearer ...`; signing replaces that header, so the key is a
placeholder. Only `Content-Type` is signed besides SigV4's own headers: the SDK's other headers (user agent,
retry count...) may change between attempts, and unsigned headers do not affect the signature.
"""

from __future__ import annotations

from collections.abc import Generator

import boto3
import httpx

from agent_client.api import sign

_SIGNED_HEADERS = frozenset({"content-type"})


class SigV4HttpxAuth(httpx.Auth):
    """An `httpx` authentication that signs each request with SigV4 for `execute-api` in `region`.

    Raises `agent_client.api.ClientFailure` when the session has no AWS credentials (the `openai` SDK
    reports it as an `APIConnectionError` caused by it).
    """

    requires_request_body = True

    def __init__(self, session: boto3.Session, region: str) -> None:
        self._session = session
        self._region = region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign `request` (its body read first) and send it."""
        signed = {name: value for name, value in request.headers.items() if name.lower() in _SIGNED_HEADERS}
        request.headers.update(
            sign(self._session, self._region, str(request.url), request.content, signed, request.method)
        )
        yield request
