"""The servers behind the emulator and the HTTP call that reaches them.

An endpoint forwards to a container-contract server; a Bedrock model id is answered by an OpenAI-compatible
chat-completions server (the same vLLM, locally).
"""

import http.client
import urllib.parse
from dataclasses import dataclass

INVOCATIONS_PATH = "/invocations"
CHAT_COMPLETIONS_PATH = "/v1/chat/completions"

Target = tuple[str, str, int, str]
"""Where a backend call goes: (scheme, host, port, path with query)."""


class BackendUnreachableError(Exception):
    """The backend could not be connected to or did not answer with HTTP headers."""


@dataclass(frozen=True)
class Endpoint:
    """One emulated SageMaker endpoint and the container-contract server behind it.

    ``backend_url`` is the server's base URL (requests go to its ``/invocations``, as SageMaker does);
    a URL with a path (e.g. ``http://127.0.0.1:8000/v1/chat/completions``) is used as is, so any
    OpenAI-compatible server can stand in for a container.
    """

    backend_url: str
    variants: tuple[str, ...] = ("AllTraffic",)
    """Production variant names; the first one answers when the request names none."""
    inference_components: tuple[str, ...] = ()
    """Inference component names; when not empty, every request must name one of them."""
    component_copies: int | None = None
    """Copies each of its inference components has in service at start; None: the emulator's
    ``component_copies`` (so one endpoint can stay in service while another starts scaled to zero)."""

    def __post_init__(self) -> None:
        _check_url(self.backend_url)
        if not self.variants:
            raise ValueError("an endpoint needs at least one production variant")
        if self.component_copies is not None and not self.inference_components:
            raise ValueError("component_copies needs inference_components")

    @property
    def invocation_target(self) -> Target:
        """Where the invocations are sent."""
        return _target(self.backend_url, INVOCATIONS_PATH)


@dataclass(frozen=True)
class ConverseModel:
    """The OpenAI-compatible server that answers Converse and ConverseStream for one Bedrock model id.

    ``backend_url`` is the server's base URL (requests go to its ``/v1/chat/completions``); a URL with a path
    is used as is (vLLM's ``/invocations`` takes chat-completions bodies too).
    """

    backend_url: str

    def __post_init__(self) -> None:
        _check_url(self.backend_url)

    @property
    def chat_completions_target(self) -> Target:
        """Where the translated chat-completions requests are sent."""
        return _target(self.backend_url, CHAT_COMPLETIONS_PATH)


def _check_url(url: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"backend_url must be an http(s) URL with a host, got {url!r}")


def _target(url: str, default_path: str) -> Target:
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme
    port = parsed.port or (443 if scheme == "https" else 80)
    path = parsed.path.rstrip("/") or default_path
    if parsed.query:
        path = f"{path}?{parsed.query}"
    return scheme, parsed.hostname or "", port, path


def open_post(
    backend_url: str, target: Target, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """POST ``body`` to ``target``; return the connection and its response (headers read).

    ``backend_url`` names the server in errors. The caller reads the body and closes the connection.
    ``timeout`` bounds the connection and each read.
    """
    scheme, host, port, path = target
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise BackendUnreachableError(
            f"the model server at {backend_url} did not answer: {error or type(error).__name__}"
        ) from error
    return connection, response


def read_all(response: http.client.HTTPResponse) -> bytes:
    """Return a (short) backend answer's whole body, or a note saying it broke off."""
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as error:
        return f"(the error body broke off: {error!r})".encode()
