"""Talking to the agent API: finding its URL, authenticating the request, streaming the response.

A request is signed with SigV4 (`api.auth: iam`) or carries a Cognito access token as a bearer token
(`api.auth: cognito`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError

from agent_client.sse import Event, iter_events

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

API_URL_OUTPUT_KEY = "ApiUrl"
SIGNING_SERVICE = "execute-api"
# Where programs read a Cognito access token from when no --token is given (an `api.auth: cognito` API).
TOKEN_VARIABLE = "COGNITO_ACCESS_TOKEN"  # noqa: S105 (a variable's name, not a secret)
# A bearer token's characters (RFC 6750, b64token): a Cognito access token is a JWT, well within them.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_READ_SIZE = 65536


class ClientFailure(Exception):
    """A problem the user can act on (no URL, no credentials, unreachable API...), with a readable message."""


class ApiHttpError(Exception):
    """The API answered with an HTTP error status (its JSON `{"code", "message"}` body, when it has one)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def default_stack_name(env: str) -> str:
    """Return the CDK app's name for the stack of environment `env`."""
    return f"SageMakerAgent-{env}"


def cloudformation_client(session: boto3.Session) -> CloudFormationClient:
    """Create the CloudFormation client that finds the stack's outputs.

    Raises:
        ClientFailure: botocore cannot make one (no region configured, ...).

    """
    try:
        client: CloudFormationClient = session.client("cloudformation")
    except (BotoCoreError, ValueError) as exc:  # botocore raises ValueError for an empty region
        raise ClientFailure(
            f"cannot ask CloudFormation for the API URL: {exc} (pass --region or --url)"
        ) from exc
    return client


def api_url_from_stack(cloudformation: CloudFormationClient, stack_name: str) -> str:
    """Read the API URL from the stack's `ApiUrl` output.

    Raises:
        ClientFailure: the stack or the output does not exist, or CloudFormation cannot be asked.

    """
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ClientFailure(
            f"cannot read stack {stack_name!r}: {exc.response['Error'].get('Message', exc)} "
            "(deployed? right --region/--env? or pass --url)"
        ) from exc
    except BotoCoreError as exc:
        raise ClientFailure(f"cannot read stack {stack_name!r}: {exc}") from exc
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == API_URL_OUTPUT_KEY:
            return str(output["OutputValue"])
    raise ClientFailure(f"stack {stack_name!r} has no {API_URL_OUTPUT_KEY!r} output (pass --url)")


def chat_url(api_url: str) -> str:
    """Return the `/chat` route under the API's base URL."""
    parts = urlsplit(api_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ClientFailure(f"not an http(s) URL: {api_url!r}")
    return api_url.rstrip("/") + "/chat"


def region_from_url(url: str) -> str | None:
    """Return the region of an `https://ID.execute-api.REGION.amazonaws.com/...` URL, if it is one."""
    match = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def sign(
    session: boto3.Session,
    region: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    method: str = "POST",
) -> dict[str, str]:
    """Return `headers` plus SigV4 authentication for `execute-api` in `region` (all of `headers` signed).

    Raises:
        ClientFailure: no AWS credentials are configured.

    """
    credentials = session.get_credentials()
    if credentials is None:
        raise ClientFailure("no AWS credentials found (configure a profile, or --no-sign for a local API)")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), SIGNING_SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def given_token(flag: str | None) -> str | None:
    """Return the access token a user gave: ``flag`` (``--token``), else ``$COGNITO_ACCESS_TOKEN``.

    Empty counts as not given.
    """
    return flag or os.environ.get(TOKEN_VARIABLE) or None


def bearer(token: str) -> dict[str, str]:
    """Return the ``Authorization`` header sending ``token`` (an access token) as a bearer token.

    Raises:
        ClientFailure: ``token`` is not a bearer token (the message never repeats it).

    """
    if not _BEARER_TOKEN.fullmatch(token):
        raise ClientFailure(
            f"the access token is not a bearer token ({len(token)} characters; expected letters, digits and "
            "-._~+/ as in a JWT): check --token or " + TOKEN_VARIABLE
        )
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ChatCall:
    """One `/chat` request."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    timeout_seconds: float = 900.0

    def events(self) -> Iterator[Event]:
        """Send the request and yield the response's events as they arrive.

        Raises:
            ApiHttpError: the API answered with an HTTP error status.
            ClientFailure: the API could not be reached or did not answer with an event stream.

        """
        timeout = urllib3.Timeout(connect=10, read=self.timeout_seconds)
        http = urllib3.PoolManager(retries=False, timeout=timeout)
        try:
            response = http.request(
                "POST",
                self.url,
                body=encode_body(self.body),
                headers=self.headers,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClientFailure(f"cannot reach {self.url}: {exc}") from exc
        try:
            if response.status >= 400:
                raise _http_error(response.status, response.read())
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                got = content_type or "no content type"
                raise ClientFailure(f"expected an event stream from {self.url}, got {got!r}")
            yield from iter_events(_chunks(response))
        except urllib3.exceptions.HTTPError as exc:
            raise ClientFailure(f"the connection to {self.url} failed mid-answer: {exc}") from exc
        finally:
            response.release_conn()


def encode_body(body: dict[str, Any]) -> bytes:
    """Encode the request body: the exact bytes sent (and signed)."""
    return json.dumps(body).encode()


def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    # read1 returns whatever has arrived, so each event is shown as soon as the server sends it.
    while chunk := response.read1(_READ_SIZE):
        yield chunk


def _http_error(status: int, raw: bytes) -> ApiHttpError:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        # API Gateway's own errors (bad signature, missing route) have a message but no code.
        return ApiHttpError(status, str(body.get("code", "http_error")), body["message"])
    text = raw.decode("utf-8", "replace").strip()
    return ApiHttpError(status, "http_error", text[:500] or "(empty body)")
