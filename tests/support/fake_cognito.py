"""A local stand-in for a Cognito user pool's managed login, and for API Gateway's Cognito authorizer.

:class:`FakeCognito` is a real HTTP server on 127.0.0.1 answering the three managed-login endpoints the chat
page uses, as Cognito's developer guide documents them
(https://docs.aws.amazon.com/cognito/latest/developerguide/<page>.html):

- ``GET /oauth2/authorize`` (page "authorization-endpoint"): checks ``response_type=code``, the client id,
  that ``redirect_uri`` is one of the client's callback URLs and an S256 ``code_challenge``, then answers as
  for a user already signed in: a redirect straight back to ``redirect_uri?code=...&state=...``.
- ``POST /oauth2/token`` (page "token-endpoint"): a form-encoded authorization-code grant. The code is used
  once; its client id and redirect URI must be the authorize request's, and the S256 of ``code_verifier``
  its ``code_challenge`` (RFC 7636). It answers ``{"access_token", "id_token", "refresh_token",
  "expires_in", "token_type": "Bearer"}`` or a 400 ``{"error": ...}``. It also takes the client credentials
  grant of a confidential (machine) client, authenticated with HTTP Basic, for scopes of its resource server,
  answering ``{"access_token", "expires_in", "token_type": "Bearer"}`` (how AgentCore Gateway's Cognito
  authorizer is reached), or 400 ``invalid_client`` / ``invalid_scope``. Every answer is sent with
  ``Access-Control-Allow-Origin: *``, the header the guide says the real endpoint sends for browser-based
  apps (a public client's PKCE exchange is its example; Cognito supports no other CORS policy there; the
  sentence is in the current page's translations). It answers no preflight (``OPTIONS``): the page's
  request must be a CORS simple request, which the guide's header alone lets a browser make.
- ``GET /logout`` (page "logout-endpoint"): checks the client id and that ``logout_uri`` is one of its
  sign-out URLs, ends the session and redirects there.

:class:`CognitoAuthorizer` is ASGI middleware standing in for API Gateway's Cognito authorizer: every route
but the public ones (the chat page and its configuration) answers API Gateway's
``401 {"message": "Unauthorized"}`` unless the request carries ``Authorization: Bearer <a live token>``
issued by the fake. The app itself never checks tokens: API Gateway does. A request it lets through carries
the request context the Lambda Web Adapter (layer 18 and later) puts in ``x-amzn-request-context`` in place
of any the client sent: the Cognito authorizer's claims, whose ``sub`` names the session owner
(``agent_api.session_owner``). The fake's one signed-in user is :data:`USER_SUB`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from agent_api.contract import PAGE_CONFIG_PATH, PAGE_PATH
from agent_api.settings import CognitoSettings
from local.emulator.background import BackgroundServer

CLIENT_ID: Final = "fakebrowserclient1"
SCOPE: Final = "openid email agent-api/invoke"
# The confidential client of the client credentials grant, and the scopes it may ask for.
MACHINE_CLIENT_ID: Final = "fakemachineclient1"
MACHINE_CLIENT_SECRET: Final = "fake-machine-secret-1"
MACHINE_SCOPES: Final = frozenset({"tools/invoke", "tools/read"})
TOKEN_LIFETIME_SECONDS: Final = 3600
UNAUTHORIZED: Final = json.dumps({"message": "Unauthorized"}).encode()
USER_SUB: Final = "0f1e2d3c-fake-user"
REQUEST_CONTEXT: Final = json.dumps({"authorizer": {"claims": {"sub": USER_SUB}}}).encode()


def s256(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier: base64url(SHA-256(verifier)), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class _Grant:
    """What an authorization code was issued for."""

    client_id: str
    redirect_uri: str
    code_challenge: str


class FakeCognito(BackgroundServer):
    """Managed login and token endpoint of a user pool with one public client and one signed-in user.

    ``redirect_uris`` are the client's callback and sign-out URLs (add the page's once it is served).
    ``token_requests`` records each token request's form; ``sign_outs`` counts the sign-outs. Tokens of the
    client credentials grant say they last ``machine_token_seconds``; ``machine_client_secret`` may change.
    """

    def __init__(self, redirect_uris: Collection[str] = (), machine_token_seconds: int = 3600) -> None:
        self.redirect_uris: set[str] = set(redirect_uris)
        self.machine_token_seconds = machine_token_seconds
        self.machine_client_secret = MACHINE_CLIENT_SECRET
        self.token_requests: list[dict[str, str]] = []
        self.sign_outs = 0
        self._grants: dict[str, _Grant] = {}
        self._tokens: set[str] = set()
        self._mismatch_next = False
        self._lock = threading.Lock()
        super().__init__(_Server(self), "fake Cognito")

    @property
    def settings(self) -> CognitoSettings:
        """The sign-in the app tells its page about: this server as the managed-login origin."""
        return CognitoSettings(domain=self.url, client_id=CLIENT_ID, scope=SCOPE, issuer=self.url)

    def is_live(self, token: str) -> bool:
        """Whether ``token`` is an access token this fake issued and has not expired."""
        with self._lock:
            return token in self._tokens

    def expire_tokens(self) -> None:
        """Let every access token issued so far expire, as an hour does."""
        with self._lock:
            self._tokens.clear()

    def mismatch_next_verifier(self) -> None:
        """Bind the next code to another code challenge, as for a code taken from someone else's sign-in:
        the page's verifier will not match it."""
        self._mismatch_next = True

    # --- The endpoints -----------------------------------------------------------------------------------
    def authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        problem = self._redirect_problem(query, "redirect_uri")
        if problem is None and query.get("response_type") != "code":
            problem = "unsupported_response_type"
        if problem is None and (
            query.get("code_challenge_method") != "S256" or not query.get("code_challenge")
        ):
            problem = "invalid_request: code_challenge with code_challenge_method=S256 required"
        if problem is not None:
            # Managed login shows its own error page rather than redirect to an unverified URL.
            return 400, {"Content-Type": "text/plain"}, problem.encode()
        challenge = query["code_challenge"]
        if self._mismatch_next:
            self._mismatch_next = False
            challenge = s256(secrets.token_urlsafe(32))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(query["client_id"], query["redirect_uri"], challenge)
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(back)}"}, b""

    def token(self, form: Mapping[str, str], authorization: str = "") -> tuple[int, dict[str, Any]]:
        self.token_requests.append(dict(form))
        if form.get("grant_type") == "client_credentials":
            return self._client_credentials(form, authorization)
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != CLIENT_ID:
            return 400, {"error": "invalid_client"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        if s256(form.get("code_verifier", "")) != grant.code_challenge:
            return 400, {"error": "invalid_grant"}
        access = f"fake-access-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens.add(access)
        return 200, {
            "access_token": access,
            "id_token": f"fake-id-{secrets.token_urlsafe(16)}",
            "refresh_token": f"fake-refresh-{secrets.token_urlsafe(16)}",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "token_type": "Bearer",
        }

    def _client_credentials(self, form: Mapping[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, encoded = authorization.partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        credentials = (unquote_plus(client_id), unquote_plus(secret))
        if scheme != "Basic" or credentials != (MACHINE_CLIENT_ID, self.machine_client_secret):
            return 400, {"error": "invalid_client"}
        scopes = set(form.get("scope", "").split())
        if not scopes <= MACHINE_SCOPES:
            return 400, {"error": "invalid_scope"}
        access = f"fake-machine-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens.add(access)
        return 200, {"access_token": access, "expires_in": self.machine_token_seconds, "token_type": "Bearer"}

    def logout(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        problem = self._redirect_problem(query, "logout_uri")
        if problem is not None:
            return 400, {"Content-Type": "text/plain"}, problem.encode()
        self.sign_outs += 1
        return 302, {"Location": query["logout_uri"]}, b""

    def _redirect_problem(self, query: Mapping[str, str], parameter: str) -> str | None:
        if query.get("client_id") != CLIENT_ID:
            return "invalid_request: unknown client_id"
        if query.get(parameter) not in self.redirect_uris:
            return f"redirect_mismatch: {parameter} is not one of the client's URLs"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cognito: FakeCognito) -> None:
        self.cognito = cognito
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    @property
    def cognito(self) -> FakeCognito:
        return self.server.cognito

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/oauth2/authorize":
            self._answer(*self.cognito.authorize(query))
        elif url.path == "/logout":
            self._answer(*self.cognito.logout(query))
        else:
            self._answer(404, {"Content-Type": "text/plain"}, b"not found")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/oauth2/token":
            self._answer(404, {"Content-Type": "text/plain"}, b"not found")
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            status, body = 400, {"error": "invalid_request"}
        else:
            form = {key: values[0] for key, values in parse_qs(raw).items()}
            status, body = self.cognito.token(form, self.headers.get("Authorization", ""))
        headers = {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
        self._answer(status, headers, json.dumps(body).encode())

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what the fake records instead."""


class CognitoAuthorizer:
    """ASGI middleware: API Gateway's Cognito authorizer in front of the app, with ``cognito``'s tokens.

    ``refused`` and ``admitted`` record the paths of the requests it stopped and let through.
    """

    PUBLIC_PATHS: Final = frozenset({PAGE_PATH, PAGE_CONFIG_PATH})

    def __init__(self, app: Any, cognito: FakeCognito) -> None:
        self.app = app
        self.cognito = cognito
        self.refused: list[str] = []
        self.admitted: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in self.PUBLIC_PATHS:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme != "Bearer" or not self.cognito.is_live(token):
                self.refused.append(scope["path"])
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": UNAUTHORIZED})
                return
            self.admitted.append(scope["path"])
            headers = [(name, value) for name, value in scope["headers"] if name != b"x-amzn-request-context"]
            scope = {**scope, "headers": [*headers, (b"x-amzn-request-context", REQUEST_CONTEXT)]}
        await self.app(scope, receive, send)
