"""How the agent authenticates to an MCP server: `httpx2` authentications for the `mcp` SDK's HTTP client.

- bearer: the text of a Secrets Manager secret as `Authorization: Bearer <token>`;
- oauth: an access token from the server's token URL by the client credentials grant (RFC 6749 section 4.4;
  the client authenticates with HTTP Basic, section 2.3.1), the client secret read from Secrets Manager, the
  token kept until shortly before it expires: how AgentCore Gateway's Cognito authorizer and most hosted MCP
  servers are reached;
- sigv4: each request signed with SigV4 by the function's own credentials (AgentCore Gateway's IAM inbound
  authorization, https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-inbound-auth.html).

A server that answers 401 gets one more try with a fresh credential (the secret read again, a new token), so
a rotated secret is picked up without a restart. Secrets are read once per process otherwise, in a worker
thread (boto3 blocks); their values are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

import boto3
import httpx2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from agent_api.mcp_servers import BearerAuth, McpAuth, OAuthClientCredentials
from agent_api.mcp_servers import SigV4Auth as SigV4Config

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Reading a secret is part of connecting to a server, which a turn waits for: a short, bounded wait.
SECRETS_CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)
HTTP_OK = 200
UNAUTHORIZED = 401
# A token is renewed this long before it expires (or at half its life, if that is sooner), so that a request
# never leaves with a token that expires on the way.
TOKEN_RENEWAL_MARGIN_SECONDS = 60.0
# RFC 6749 recommends expires_in; a token that does not say is used for this long at most.
DEFAULT_TOKEN_LIFETIME_SECONDS = 300.0


class McpAuthError(RuntimeError):
    """A credential for an MCP server could not be had; the message says which and why (no secret in it)."""


class SecretReader:
    """Reads the text of Secrets Manager secrets, once per process each (`forget` has the next read anew)."""

    def __init__(self, client: Callable[[], SecretsManagerClient]) -> None:
        self._client = client
        self._values: dict[str, str] = {}

    async def text(self, name: str) -> str:
        """Return the secret's text (SecretString).

        Raises:
            McpAuthError: the secret cannot be read, or holds binary data only.

        """
        if name not in self._values:
            self._values[name] = await asyncio.to_thread(self._read, name)
        return self._values[name]

    def forget(self, name: str) -> None:
        """Read the secret again next time (the server refused what it held)."""
        self._values.pop(name, None)

    def _read(self, name: str) -> str:
        try:
            answer = self._client().get_secret_value(SecretId=name)
        except Exception as error:
            raise McpAuthError(f"cannot read secret {name!r}: {type(error).__name__}: {error}") from error
        text = answer.get("SecretString")
        if not text:
            raise McpAuthError(f"secret {name!r} holds no text (SecretString); store the credential as text")
        return text.strip()


class BearerSecretAuth(httpx2.Auth):
    """`Authorization: Bearer <the secret's text>`; after a 401, the secret is read again once."""

    def __init__(self, secret: str, secrets: SecretReader) -> None:
        self._secret = secret
        self._secrets = secrets

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Send the request with the token; once more with the secret read again if it is refused."""
        token = await self._secrets.text(self._secret)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == UNAUTHORIZED:
            self._secrets.forget(self._secret)
            fresh = await self._secrets.text(self._secret)
            if fresh != token:
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request


class ClientCredentialsAuth(httpx2.Auth):
    """An OAuth access token by the client credentials grant, kept until shortly before it expires.

    The token request goes through the MCP client's own connection pool (the flow yields it), one at a time.
    After a 401 from the server, a new token is fetched once, the client secret read again first.
    """

    def __init__(
        self,
        config: OAuthClientCredentials,
        secrets: SecretReader,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._clock = clock
        self._token: tuple[str, float] | None = None  # the token and when to renew it
        self._lock = asyncio.Lock()

    def _valid_token(self) -> str | None:
        if self._token is None or self._clock() >= self._token[1]:
            return None
        return self._token[0]

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Send the request with a valid token, fetching one first if there is none or it expires soon."""
        token = self._valid_token()
        if token is None:
            async with self._lock:
                token = self._valid_token()
                if token is None:
                    token = self._keep(await self._read((yield await self._token_request())))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != UNAUTHORIZED:
            return
        async with self._lock:
            if self._valid_token() in (token, None):
                self._secrets.forget(self._config.secret)
                token = self._keep(await self._read((yield await self._token_request())))
            else:
                token = self._valid_token() or token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def _token_request(self) -> httpx2.Request:
        config = self._config
        secret = await self._secrets.text(config.secret)
        basic = ":".join(urllib.parse.quote(part, safe="") for part in (config.client_id, secret))
        form = {"grant_type": "client_credentials"}
        if config.scopes:
            form["scope"] = " ".join(config.scopes)
        return httpx2.Request(
            "POST",
            config.token_url,
            headers={
                "Authorization": f"Basic {base64.b64encode(basic.encode()).decode()}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            content=urllib.parse.urlencode(form).encode(),
        )

    async def _read(self, response: httpx2.Response) -> tuple[int, Any]:
        body = await response.aread()
        try:
            return response.status_code, json.loads(body)
        except ValueError:
            return response.status_code, None

    def _keep(self, answer: tuple[int, Any]) -> str:
        """Keep the token of the token endpoint's answer and return it.

        Raises:
            McpAuthError: the endpoint refused, or answered something that is not a bearer token.

        """
        status, body = answer
        url = self._config.token_url
        fields = body if isinstance(body, dict) else {}
        if status != HTTP_OK:
            reason = " ".join(str(fields[key]) for key in ("error", "error_description") if key in fields)
            raise McpAuthError(f"the token endpoint {url} answered {status} {reason}".rstrip())
        token, kind, lifetime = (
            fields.get("access_token"),
            fields.get("token_type", "Bearer"),
            fields.get("expires_in"),
        )
        if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
            raise McpAuthError(f"the token endpoint {url} answered no bearer access_token")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0
            else DEFAULT_TOKEN_LIFETIME_SECONDS
        )
        self._token = (token, self._clock() + seconds - min(TOKEN_RENEWAL_MARGIN_SECONDS, seconds / 2))
        return token


class SigV4RequestAuth(httpx2.Auth):
    """Each request signed with SigV4 by the function's credentials (host and SigV4's own headers signed)."""

    def __init__(self, config: SigV4Config, credentials: Callable[[], Any]) -> None:
        self._config = config
        self._credentials = credentials

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Sign the request (its body read first) and send it."""
        body = await request.aread()
        # Refreshable credentials may call STS: off the event loop.
        credentials = await asyncio.to_thread(self._credentials)
        if credentials is None:
            raise McpAuthError("no AWS credentials to sign the request with (sigv4)")
        signed = AWSRequest(
            method=request.method, url=str(request.url), data=body, headers={"Host": request.headers["Host"]}
        )
        SigV4Auth(credentials, self._config.service, self._config.region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        yield request


def http_auth(auth: McpAuth, secrets: SecretReader, session: boto3.Session) -> httpx2.Auth | None:
    """Return the authentication of a server's requests (None: unauthenticated)."""
    if isinstance(auth, BearerAuth):
        return BearerSecretAuth(auth.secret, secrets)
    if isinstance(auth, OAuthClientCredentials):
        return ClientCredentialsAuth(auth, secrets)
    if isinstance(auth, SigV4Config):
        return SigV4RequestAuth(auth, lambda: _frozen(session))
    return None


def _frozen(session: boto3.Session) -> Any:
    credentials = session.get_credentials()
    return None if credentials is None else credentials.get_frozen_credentials()
